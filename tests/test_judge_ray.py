"""Batch judging on Ray Data: the plan, the fake-engine pipeline, bad rows, and real tiny engines."""

import pytest

from judge_core.data import load
from ray_jobs.batch import SweepConfig, orders_for, run_cell
from ray_jobs.batch.stages import engine_stage
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import EnsembleSpec, JudgeSpec
from ray_jobs.store import Cell, CellStatus, read_parts, read_status


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    from ray_jobs.tiny_models import tiny_llama

    return str(tiny_llama(tmp_path_factory.mktemp("tiny") / "llama"))


def test_plan_without_starting_engines():
    spec = JudgeSpec(
        name="q",
        engine="vllm",
        model="Qwen/Qwen2.5-7B-Instruct",
        mode="label",
        concurrency=4,
        num_gpus=1,
        batch_size=64,
    )
    stage = engine_stage(spec)
    assert (stage["compute"].min_size, stage["compute"].max_size) == (4, 4)
    assert (stage["num_gpus"], stage["batch_size"], stage["batch_format"]) == (1, 64, "pyarrow")
    assert stage["fn_constructor_kwargs"] == {"spec": spec.model_dump()}
    cfg = SweepConfig(
        name="s",
        benchmarks=["llmbar", "pandalm"],
        templates=["label", "mtbench-pair"],
        orders="protocol",
        judges=[spec, JudgeSpec(name="longer", engine="baseline", model="longer")],
    )
    keys = [c.key for c in cfg.cells()]
    assert len(keys) == 2 * 6 + 6  # prompted judge: 2 templates x 6 subsets; baseline: no template
    assert "q/mtbench-pair/llmbar-gptout" in keys and "longer/-/pandalm-test" in keys
    assert orders_for("pandalm", "protocol") == ("ab",) and orders_for("llmbar", "protocol") == ("ab", "ba")
    assert orders_for("critiquellm-pointwise", "both") == ("ab",)  # one answer, one order


def test_pointwise_templates_judge_pointwise_benchmarks_only():
    judges = [JudgeSpec(name="q", engine="hf", model="m"), JudgeSpec(name="longer", engine="baseline", model="longer")]
    cfg = SweepConfig(
        name="s", benchmarks=["pandalm", "critiquellm-pointwise"], templates=["label", "mtbench-single"], judges=judges
    )
    assert sorted(c.key for c in cfg.cells()) == [
        "longer/-/pandalm-test",
        "q/label/pandalm-test",
        "q/mtbench-single/critiquellm-pointwise-reference-based",
        "q/mtbench-single/critiquellm-pointwise-reference-free",
    ]
    with pytest.raises(ValueError, match="add a pointwise template"):
        SweepConfig(name="s", benchmarks=["critiquellm-pointwise"], templates=["label"], judges=judges)


def test_a_retrained_local_model_changes_the_cell_hash(tmp_path):
    """Stored judgments belong to the model that made them: retraining an adapter in place (new
    file sizes or times) gives its cells a new hash, so a re-run judges them again."""
    import os

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"1234")
    cell = Cell(JudgeSpec(name="m", engine="classifier", model=str(adapter)), None, "llmbar", "natural")
    first = cell.config_hash()
    assert cell.config_hash() == first and "model" in cell.config()["artifacts"]
    os.utime(adapter / "adapter_model.safetensors", ns=(0, 10**18))  # retrained: new time, same size
    assert cell.config_hash() != first
    hub = Cell(JudgeSpec(name="h", engine="hf", model="Qwen/Qwen2.5-7B-Instruct"), "label", "llmbar", "natural")
    assert "artifacts" not in hub.config()  # a hub id is not a local path: nothing to fingerprint


def test_spec_and_sweep_validation():
    with pytest.raises(ValueError, match="needs a model"):
        JudgeSpec(name="x", engine="hf")
    with pytest.raises(ValueError, match="no label mode"):
        JudgeSpec(name="x", engine="baseline", model="longer", mode="label")
    with pytest.raises(KeyError, match="unknown template"):
        SweepConfig(name="s", benchmarks=["pandalm"], templates=["nope"], judges=[])
    with pytest.raises(ValueError, match="no subset"):
        SweepConfig(name="s", benchmarks=["llmbar/nope"], judges=[])
    from ray_jobs.spec import preflight

    with pytest.raises(FileNotFoundError, match=r"no judgeray\.json"):
        preflight(JudgeSpec(name="m", engine="classifier", model="results/nowhere"))
    with pytest.raises(FileNotFoundError, match="adapter directory"):
        preflight(JudgeSpec(name="m", engine="hf", model="Qwen/Qwen2.5-7B-Instruct", adapter="results/nowhere"))
    preflight(JudgeSpec(name="m", engine="hf", model="Qwen/Qwen2.5-7B-Instruct"))  # hub ids are not checked


def _longer(ex, order):
    shown = ex if order == "ab" else ex.swapped()
    v = 1 if len(shown.answer1) > len(shown.answer2) else 2 if len(shown.answer2) > len(shown.answer1) else 0
    return {1: 2, 2: 1}.get(v, v) if order == "ba" else v


@pytest.mark.slow
def test_fake_engine_pipeline_is_exact_and_independent_of_actor_count(ray_local, tmp_path, shared_root):
    examples, _ = load("llmbar", "natural", root=shared_root)
    tables = []
    for concurrency in (1, 2):
        spec = JudgeSpec(name=f"fake{concurrency}", engine="fake", concurrency=concurrency, batch_size=7)
        m = run_cell(
            Cell(spec, "label", "llmbar", "natural", root=str(shared_root)), tmp_path, part_rows=50, bootstrap=0
        )
        assert m["rows"] == 200 and m["errors"] == 0 and m["result"]["parse_failures"] == 0
        assert m["result"]["accuracy"] == pytest.approx(0.56)  # the longer-answer rule's known score
        tables.append(read_parts(tmp_path / spec.name / "label" / "llmbar-natural"))
    got = [sorted(zip(t["uid"].to_pylist(), t["order"].to_pylist(), t["verdict"].to_pylist())) for t in tables]
    assert got[0] == got[1]
    want = sorted((ex.uid, o, _longer(ex, o)) for ex in examples for o in ("ab", "ba"))
    assert got[0] == want


@pytest.mark.slow
def test_judges_run_side_by_side_and_their_order_changes_no_stored_row(ray_local, tmp_path, shared_root):
    """Two CPU judges fit the 4-CPU Ray at once: both start before either ends; the same sweep with the
    judges listed the other way round stores the same rows (the time a row took aside)."""
    from ray_jobs.batch.sweep import run_sweep

    judges = [
        {"name": "first", "engine": "fake", "options": {"rule": "first", "delay": 0.01}, "batch_size": 8},
        {"name": "longer", "engine": "fake", "options": {"delay": 0.01}, "batch_size": 8},
    ]
    stored = []
    for name, order in (("fwd", judges), ("rev", judges[::-1])):
        lines = []
        cfg = SweepConfig(
            name=name,
            output_dir=str(tmp_path),
            root=str(shared_root),
            benchmarks=["llmbar/natural"],
            limit=40,
            bootstrap=0,
            part_rows=16,
            judges=order,
        )
        assert {s.state for s in run_sweep(cfg, log=lines.append).values()} == {"ok"}
        events = [line.split(" cells")[0].split(": done")[0] for line in lines if line.startswith("== judge")]
        assert events[:2] == [f"== judge {j['name']}: 1" for j in order]  # both started before either ended
        assert sorted(events[2:]) == ["== judge first", "== judge longer"]
        stored.append(
            {
                j["name"]: sorted(
                    (r["uid"], r["order"], r["verdict"], r["raw"], r["p1"])
                    for r in read_parts(tmp_path / name / j["name"] / "label" / "llmbar-natural").to_pylist()
                )
                for j in judges
            }
        )
    assert stored[0] == stored[1] and len(stored[0]["first"]) == 80


@pytest.mark.slow
def test_an_auto_pool_grows_into_free_resources(ray_local, tmp_path, shared_root):
    """concurrency auto starts one actor and Ray Data adds more while rows queue (4 CPUs: up to 4)."""
    starts = tmp_path / "starts.txt"
    spec = JudgeSpec(
        name="auto",
        engine="fake",
        concurrency="auto",
        batch_size=4,
        options={"delay": 0.05, "starts_file": str(starts)},
    )
    m = run_cell(Cell(spec, "label", "llmbar", "natural", root=str(shared_root)), tmp_path, part_rows=50, bootstrap=0)
    assert m["rows"] == 200 and m["result"]["accuracy"] == pytest.approx(0.56)
    assert 2 <= len(starts.read_text().splitlines()) <= 4


@pytest.mark.slow
def test_a_bad_row_fails_alone_and_is_counted(ray_local, tmp_path, shared_root):
    spec = JudgeSpec(name="flaky", engine="fake", batch_size=16, options={"fail_uids": ["llmbar/natural/5"]})
    m = run_cell(Cell(spec, "label", "llmbar", "natural", root=str(shared_root)), tmp_path, bootstrap=0)
    assert m["errors"] == 2 and m["result"]["parse_failures"] == 2  # both orders of that one example
    rows = read_parts(tmp_path / "flaky" / "label" / "llmbar-natural").to_pylist()
    bad = [r for r in rows if r["error"]]
    assert {r["uid"] for r in bad} == {"llmbar/natural/5"} and "fake failure" in bad[0]["error"]
    assert sum(r["verdict"] is not None for r in rows) == 198


@pytest.mark.slow
def test_hf_engine_label_and_generate_through_ray(ray_local, tmp_path, shared_root, tiny_llama_dir):
    for mode in ("label", "generate"):
        spec = JudgeSpec(
            name=f"tiny-{mode}",
            engine="hf",
            model=tiny_llama_dir,
            mode=mode,
            batch_size=4,
            options={"max_new_tokens": 4},
        )
        m = run_cell(Cell(spec, "label", "llmbar", "natural", limit=6, root=str(shared_root)), tmp_path, bootstrap=0)
        assert m["rows"] == 12 and m["errors"] == 0 and m["limit"] == 6
        assert m["random_model"]  # tiny_models marks its models random: the report says so in a banner
        assert m["truncated"] == 12  # LLMBar prompts exceed the tiny model's 512 positions
        if mode == "label":
            assert m["probabilistic"] and "result_swapavg" in m and 0 <= m["calibration"]["ece"] <= 1
        else:  # a random tiny model writes no label: every row is a parse failure with its reason
            assert m["result"]["parse_failures"] == 12
    direct = build_engine(JudgeSpec(name="d", engine="hf", model=tiny_llama_dir, mode="label"))
    from judge_core.pipeline import expand

    examples, _ = load("llmbar", "natural", root=shared_root)
    outs = direct.judge(expand(examples[:6], ("ab", "ba")), "label")
    rows = {
        (r["uid"], r["order"]): r for r in read_parts(tmp_path / "tiny-label" / "label" / "llmbar-natural").to_pylist()
    }
    for row, out in zip(expand(examples[:6], ("ab", "ba")), outs):
        stored = rows[row["uid"], row["order"]]
        p = out["probs"] if row["order"] == "ab" else (out["probs"][0], out["probs"][2], out["probs"][1])
        assert (stored["p_tie"], stored["p1"], stored["p2"]) == pytest.approx(p, abs=1e-5)


@pytest.mark.slow
def test_one_actor_pool_serves_every_cell_of_a_judge(ray_local, tmp_path, shared_root):
    from judge_core.data import load as load_data
    from ray_jobs.batch import run_cells

    starts = tmp_path / "starts.txt"
    spec = JudgeSpec(name="fake", engine="fake", mode="label", batch_size=8, options={"starts_file": str(starts)})
    cells = [
        Cell(spec, "label", "llmbar", "natural", limit=20, root=str(shared_root)),
        Cell(spec, "mtbench-pair", "llmbar", "neighbor", limit=10, root=str(shared_root)),
        Cell(
            spec, "mtbench-single", "critiquellm-pointwise", "reference-free", ("ab",), limit=30, root=str(shared_root)
        ),
        Cell(spec, "label", "llmbar", "nope", root=str(shared_root)),
    ]  # cannot load: fails alone
    out = run_cells(cells, tmp_path / "res", part_rows=16, bootstrap=0, log=lambda *_: None)
    assert starts.read_text().splitlines() == ["fake"]  # the engine was built once for three cells
    assert isinstance(out[cells[3].key], Exception)
    assert [out[c.key]["rows"] for c in cells[:3]] == [40, 20, 30]
    assert all(out[c.key]["errors"] == 0 for c in cells[:3])
    point = out[cells[2].key]["result"]
    examples, _ = load_data("critiquellm-pointwise", "reference-free", root=shared_root)
    from scipy.stats import pearsonr

    rating = [min(10, 1 + len(ex.answer.split()) // 10) for ex in examples[:30]]  # the fake rule
    assert point["pearson"] == pytest.approx(pearsonr([ex.score for ex in examples[:30]], rating).statistic)
    stored = read_parts(tmp_path / "res" / cells[1].key)
    assert set(stored["template"].to_pylist()) == {"mtbench-pair"} and stored.num_rows == 20
    again = run_cells(cells[:3], tmp_path / "res", bootstrap=0, log=lambda *_: None)
    assert starts.read_text().splitlines() == ["fake"]  # finished cells start no engine
    assert all(again[c.key] == out[c.key] for c in cells[:3])


@pytest.mark.slow
def test_ensemble_judge_averages_members_stored_probabilities(ray_local, tmp_path, shared_root):
    import json

    import numpy as np

    from ray_jobs.batch import SweepConfig, run_sweep

    judges = [
        JudgeSpec(name="fake", engine="fake", mode="label", batch_size=32),
        JudgeSpec(name="first", engine="fake", mode="label", batch_size=32, options={"rule": "first"}),
    ]
    ensemble = EnsembleSpec(name="ens", members=["fake", "first"], weights=[3, 1])
    cfg = SweepConfig(
        name="e",
        output_dir=str(tmp_path),
        judges=judges,
        ensembles=[ensemble],
        templates=["label"],
        benchmarks=["llmbar/natural", "pandalm"],
        limit=60,
        bootstrap=0,
        root=str(shared_root),
    )
    status = run_sweep(cfg, log=lambda *_: None)  # the ensembles step runs after its members
    assert {s.state for s in status.values()} == {"ok"} and len(status) == 6

    def probs(judge, leaf):
        by_uid = {}
        for r in read_parts(tmp_path / "e" / judge / ("label" if judge != "ens" else "-") / leaf).to_pylist():
            by_uid.setdefault(r["uid"], []).append((r["p_tie"], r["p1"], r["p2"]))
        return {u: np.mean(v, axis=0) for u, v in by_uid.items()}

    fake, first, ens = (probs(j, "llmbar-natural") for j in ("fake", "first", "ens"))
    assert len(ens) == 60 and all(np.allclose(ens[u], (3 * fake[u] + first[u]) / 4) for u in ens)
    m = json.loads((tmp_path / "e" / "ens" / "-" / "llmbar-natural" / "metrics.json").read_text())
    assert m["result"]["n"] == 60 and set(m["members"]) == {"fake", "first"}
    cal = json.loads((tmp_path / "e" / "fake" / "label" / "pandalm-test" / "metrics.json").read_text())["calibrated"]
    assert cal["n_fit"] + cal["n_heldout"] == 60 and cal["after"]["log_loss"] <= cal["before"]["log_loss"] + 0.05
    assert "| ens |" in (tmp_path / "e" / "report.md").read_text()
    with pytest.raises(ValueError, match=r"member 'first' is not a judge of this sweep"):
        SweepConfig(name="x", benchmarks=["pandalm"], judges=[judges[0]], ensembles=[ensemble])
    rule = JudgeSpec(name="first", engine="baseline", model="longer")
    with pytest.raises(ValueError, match="member first gives no probabilities"):
        SweepConfig(name="x", benchmarks=["pandalm"], judges=[judges[0], rule], ensembles=[ensemble])
    with pytest.raises(ValueError, match="judge and ensemble names must be unique"):
        SweepConfig(
            name="x",
            benchmarks=["pandalm"],
            judges=judges,
            ensembles=[EnsembleSpec(name="fake", members=["first", "fake"])],
        )


def test_a_judge_whose_model_is_missing_is_left_out_not_failed(ray_local, tmp_path, shared_root, capsys):
    """A classifier not trained yet (and an ensemble that needs it) are left out with the reason; the
    sweep runs the rest, the report lists them, and `judge sweep` does not fail."""
    import json

    from ray_jobs.batch import SweepConfig, run_sweep
    from ray_jobs.report.text import print_cells

    judges = [
        JudgeSpec(name="fake", engine="fake", mode="label"),
        JudgeSpec(name="minilm", engine="classifier", model=str(tmp_path / "not-trained")),
    ]
    cfg = SweepConfig(
        name="m",
        output_dir=str(tmp_path),
        judges=judges,
        ensembles=[EnsembleSpec(name="ens", members=["fake", "minilm"])],
        templates=["label"],
        benchmarks=["llmbar/manual"],
        limit=4,
        bootstrap=0,
        root=str(shared_root),
    )
    status = run_sweep(cfg, log=lambda *_: None)
    assert status["fake/label/llmbar-manual"] == CellStatus(state="ok")
    assert (
        status["minilm/-/llmbar-manual"].state == "left_out"
        and "train it first" in status["minilm/-/llmbar-manual"].reason
    )
    assert str(status["ens/-/llmbar-manual"]) == "left out: member minilm was left out"
    assert (
        print_cells(status) == 0
        and "1 of 3 cells ok; 2 left out (model missing: ens, minilm)" in capsys.readouterr().out
    )
    report = (tmp_path / "m" / "report.md").read_text()
    assert "**Left out (model or adapter missing; not run, not failed)**" in report and "Failed cells" not in report
    assert read_status(tmp_path / "m" / "status.json") == status
    assert json.loads((tmp_path / "m" / "status.json").read_text())["ens/-/llmbar-manual"] == {
        "state": "left_out",
        "reason": "member minilm was left out",
    }


@pytest.mark.parametrize("template", ["autoj", "judgelm", "label", "mtbench-pair", "llmbar", "pandalm"])
def test_fake_engine_writes_a_verdict_every_template_parses(template):
    """The fake judge writes each template's own verdict text (Auto-J's 'final decision', JudgeLM's
    score pair...), so a generate-mode pipeline test works with any template."""
    from judge_core.pipeline import to_judgment

    examples, _ = load("llmbar", "natural")
    rows = [
        r | {"template": template}
        for r in __import__("judge_core.pipeline", fromlist=["expand"]).expand(examples[:6], ("ab", "ba"))
    ]
    engine = build_engine(JudgeSpec(name="f", engine="fake", options={"rule": "longer"}))
    judgments = [to_judgment(r, o, template, "f", allow_tie=False) for r, o in zip(rows, engine.judge(rows, template))]
    assert [j.error for j in judgments] == [None] * len(rows)
    assert all(j.verdict in (1, 2, 0) for j in judgments)
