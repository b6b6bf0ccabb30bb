"""`judge score` end to end on the real benchmarks: every protocol, raw outputs, bad prediction files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from judge_core.data import load
from judge_core.scoring import score
from ray_jobs.cli import main

VENV_JUDGE = Path(sys.executable).with_name("judge")


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def oracle_rows(examples, orders=("ab", "ba"), wrong_every=4):
    """Gold verdicts, except every `wrong_every`-th example is judged 'first answer' in both orders."""
    rows = []
    for e in examples:
        for order in orders:
            if wrong_every and e.index % wrong_every == 0:
                v = 1 if order == "ab" else 2  # always the answer shown first
            else:
                v = e.label
            rows.append({"index": e.index, "order": order, "verdict": v})
    return rows


def test_llmbar_exact(tmp_path, shared_root):
    examples, _ = load("llmbar", "natural", root=shared_root)
    path = write(tmp_path / "p.jsonl", oracle_rows(examples))
    r = score("llmbar", path, subset="natural", root=shared_root, bootstrap=0)
    # the 25 examples with index % 4 == 0 are right in exactly one order; the rest in both
    firsts = [e for e in examples if e.index % 4 == 0]
    n_gold1 = sum(e.label == 1 for e in firsts)
    assert r["accuracy_ab"] == pytest.approx((75 + n_gold1) / 100)
    assert r["accuracy_ba"] == pytest.approx((75 + 25 - n_gold1) / 100)
    assert r["accuracy"] == pytest.approx((150 + 25) / 200) and r["agreement"] == 0.75
    assert r["prefer_first"] == 0.25


def test_raw_outputs_parsed_and_mapped_back(tmp_path, shared_root):
    examples, _ = load("mtbench", root=shared_root)
    letter = {1: "A", 2: "B"}
    rows = []
    for e in examples:
        rows.append({"index": e.index, "order": "ab", "output": f"Reasoning... [[{letter[e.label]}]]"})
        # in the swapped presentation the better answer is shown as the other letter
        rows.append({"index": e.index, "order": "ba", "output": f"[[{letter[3 - e.label]}]]"})
    rows[0]["output"] = "I refuse to pick."
    path = write(tmp_path / "p.jsonl", rows)
    r = score("mtbench", path, template="mtbench-pair", root=shared_root, bootstrap=0)
    assert r["parse_failures"] == 1
    assert r["accuracy_ba"] == 1.0 and r["accuracy_ab"] == pytest.approx(199 / 200)
    with pytest.raises(ValueError, match="raw outputs need --template"):
        score("mtbench", path, root=shared_root, bootstrap=0)


def test_score_parses_raw_outputs_by_the_source_rule_or_strictly(tmp_path, shared_root, capsys):
    examples, _ = load("llmbar", "natural", root=shared_root)
    word = {1: "(a)", 2: "(b)"}
    rows = []
    for e in examples:
        for order, right in (("ab", e.label), ("ba", 3 - e.label)):
            rows.append({"index": e.index, "order": order, "output": f"Output {word[right]}"})
    rows[0]["output"] = "Output (a)\nOutput (b)"  # LLMBar's parser reads (a) first; strict: ambiguous
    path = write(tmp_path / "p.jsonl", rows)
    args = ["score", "--benchmark", "llmbar", "--subset", "natural", "--predictions", str(path)]
    args += ["--template", "llmbar", "--root", str(shared_root), "--bootstrap", "0", "--json"]
    assert main(args) == 0
    source = json.loads(capsys.readouterr().out)  # LLMBar's parser: the first line-initial "Output (x)"
    right = examples[0].label == 1
    assert source["parse_failures"] == 0 and source["accuracy_ab"] == pytest.approx((99 + right) / 100)
    assert main([*args, "--parse", "strict"]) == 0
    strict = json.loads(capsys.readouterr().out)  # two markers that disagree: a failure, counted
    assert strict["parse_failures"] == 1 and "draws" not in strict


def test_pandalm_and_autoj_json_keys(tmp_path, shared_root, capsys):
    for bench, keys in (
        ("pandalm", {"accuracy", "precision", "recall", "f1"}),
        ("autoj", {"agreement", "consistency", "single_accuracy", "groups"}),
    ):
        examples, _ = load(bench, root=shared_root)
        path = write(tmp_path / f"{bench}.jsonl", oracle_rows(examples))
        assert (
            main(
                [
                    "score",
                    "--benchmark",
                    bench,
                    "--predictions",
                    str(path),
                    "--root",
                    str(shared_root),
                    "--bootstrap",
                    "50",
                    "--json",
                ]
            )
            == 0
        )
        out = json.loads(capsys.readouterr().out)
        assert keys <= set(out) and out["n"] == len(examples) and out["parse_failures"] == 0
        assert all(0 <= out[k] <= 1 for k in keys - {"groups"})
    assert set(out["groups"]) == {
        "Summarization",
        "Exam Questions",
        "Code",
        "Rewriting",
        "Creative Writing",
        "Functional Writing",
        "General Communication",
        "NLP Tasks",
    }


def test_judgelm_protocol_on_pandalm(tmp_path, shared_root):
    examples, _ = load("pandalm", root=shared_root)
    path = write(tmp_path / "p.jsonl", [{"index": e.index, "order": "ab", "verdict": e.label} for e in examples])
    r = score("pandalm", path, protocol="judgelm", root=shared_root, bootstrap=0)
    assert (r["agreement"], r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0, 1.0)
    assert r["consistency"] is None


def test_arena_log_loss_from_probs(tmp_path, shared_root):
    examples, _ = load("arena", "train", root=shared_root)
    rows = [{"index": e.index, "order": "ab", "probs": [1 / 3, 1 / 3, 1 / 3]} for e in examples]
    r = score("arena", write(tmp_path / "p.jsonl", rows), subset="train", root=shared_root, bootstrap=0)
    assert r["log_loss"] == pytest.approx(1.0986123) and r["n"] == 100  # ln 3: a uniform guess


def test_pointwise_from_scores_and_ratings(tmp_path, shared_root):
    examples, _ = load("critiquellm-pointwise", "reference-free", root=shared_root)
    rows = [
        {"index": e.index, "score": e.score}
        if e.index % 2
        else {"index": e.index, "output": f"Critique. Rating: [[{e.score:g}]]"}
        for e in examples
    ]
    rows[1] = {"index": 1, "output": "no rating given"}
    r = score(
        "critiquellm-pointwise",
        write(tmp_path / "p.jsonl", rows),
        subset="reference-free",
        root=shared_root,
        bootstrap=0,
    )
    assert r["parse_failures"] == 1 and r["n"] == 99
    assert (r["pearson"], r["spearman"], r["kendall"]) == pytest.approx((1.0, 1.0, 1.0))


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"index": 0, "order": "ab", "verdict": 1}], r"order 'ab' has no prediction for 99 indices: 1, 2, 3"),
        (
            [{"index": i, "order": "ab", "verdict": 1} for i in range(100)]
            + [{"index": 100, "order": "ab", "verdict": 1}],
            "indices not in the benchmark: 100",
        ),
        (
            [{"index": 0, "order": "ab", "verdict": 1}, {"index": 0, "order": "ab", "verdict": 2}],
            r"line 2, field 'index': duplicate prediction for index 0 order ab",
        ),
        ([{"index": 0, "order": "xy", "verdict": 1}], "field 'order'"),
        ([{"index": "0", "verdict": 1}], "field 'index'"),
        ([{"index": 0, "verdict": 5}], "field 'verdict'"),
        ([{"index": 0, "verdict": 1.0}], r"line 1, field 'verdict': expected the integer 0, 1 or 2, or null, got 1.0"),
        ([{"index": 0, "verdict": True}], "field 'verdict'"),
        ([{"index": 0, "verdict": 1, "probs": [0.5, 0.6, 0.1]}], "field 'probs'"),
    ],
)
def test_bad_prediction_files(tmp_path, shared_root, rows, message):
    path = write(tmp_path / "p.jsonl", rows)
    with pytest.raises(ValueError, match=message):
        score("arena", path, subset="train", root=shared_root, bootstrap=0)


def test_incomplete_optional_order_is_an_error(tmp_path, shared_root):
    examples, _ = load("pandalm", root=shared_root)
    rows = [{"index": e.index, "order": "ab", "verdict": 1} for e in examples] + [
        {"index": 0, "order": "ba", "verdict": 1}
    ]
    with pytest.raises(ValueError, match="order 'ba' has no prediction for 998 indices"):
        score("pandalm", write(tmp_path / "p.jsonl", rows), root=shared_root, bootstrap=0)


def test_subset_required_for_multi_subset_benchmarks(tmp_path, shared_root):
    with pytest.raises(ValueError, match="choose one with --subset: natural, neighbor"):
        score("llmbar", write(tmp_path / "p.jsonl", []), root=shared_root)


def test_console_script_and_no_heavy_imports(tmp_path, shared_root):
    examples, _ = load("llmbar", "manual", root=shared_root)
    path = write(tmp_path / "p.jsonl", oracle_rows(examples, wrong_every=0))
    probe = (
        "import sys, runpy; sys.argv = ['judge', 'score', '--benchmark', 'llmbar', '--subset', 'manual', "
        f"'--predictions', {str(path)!r}, '--root', {str(shared_root)!r}, '--json']; "
        "from ray_jobs.cli import main; code = main(); "
        "heavy = [m for m in ('ray', 'torch', 'vllm', 'transformers', 'deepspeed') if m in sys.modules]; "
        "print('HEAVY', heavy); sys.exit(code)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and json.loads(out.splitlines()[0])["accuracy"] == 1.0
    if VENV_JUDGE.exists():
        res = subprocess.run(
            [
                str(VENV_JUDGE),
                "score",
                "--benchmark",
                "llmbar",
                "--subset",
                "manual",
                "--predictions",
                str(path),
                "--root",
                str(shared_root),
            ],
            capture_output=True,
            text=True,
            env=os.environ | {"JUDGE_DATA_DIR": str(shared_root)},
        )
        assert res.returncode == 0 and "accuracy" in res.stdout and "100.00" in res.stdout


def test_cli_errors_are_one_line(tmp_path, shared_root, capsys):
    assert (
        main(
            [
                "score",
                "--benchmark",
                "llmbar",
                "--predictions",
                str(tmp_path / "none.jsonl"),
                "--root",
                str(shared_root),
            ]
        )
        == 2
    )
    assert "judge: error: llmbar has several subsets" in capsys.readouterr().err


def test_data_list_and_show(shared_root, capsys):
    assert main(["data", "list", "--root", str(shared_root)]) == 0
    out = capsys.readouterr().out
    assert "pandalm                  benchmark test                                999  1:422 2:472 tie:105" in out
    assert "judgelm-val" in out and "not present" in out
    assert main(["data", "show", "autoj", "--root", str(shared_root)]) == 0
    out = capsys.readouterr().out
    assert "rows: 1392  1:520 2:499 tie:373" in out and '"scenario": "post_summarization"' in out
    assert main(["data", "show", "pandalm", "--root", str(shared_root)]) == 0
    assert "annotator agreement: Fleiss' kappa 0.8642" in capsys.readouterr().out


@pytest.mark.parametrize(
    "value, message",
    [
        ("NaN", "expected a finite number, got nan"),
        ("Infinity", "expected a finite number, got inf"),
        ("-Infinity", "expected a finite number"),
        ("11", r"11 is off the benchmark's scale 1..5"),
        ("0.5", r"0.5 is off the benchmark's scale 1..5"),
    ],
)
def test_pointwise_scores_are_finite_and_on_the_scale(tmp_path, shared_root, value, message):
    examples, _ = load("critiquellm-pointwise", "reference-free", root=shared_root)
    lines = [json.dumps({"index": e.index, "score": e.score}) for e in examples]
    lines[3] = f'{{"index": 3, "score": {value}}}'
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"p.jsonl, line 4, field 'score': {message}"):
        score("critiquellm-pointwise", path, subset="reference-free", root=shared_root, bootstrap=0)


def test_non_utf8_prediction_line_is_named(tmp_path, shared_root):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"index": 0, "verdict": 1}\n{"index": 1, "output": "caf\xff [1]"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl, line 2: not valid UTF-8 \(byte 0xff\)"):
        score("arena", path, subset="train", root=shared_root, bootstrap=0, template="label")


def test_json_output_is_strict_json(tmp_path, shared_root, capsys):
    examples, _ = load("critiquellm-pointwise", "reference-free", root=shared_root)
    rows = [{"index": e.index, "score": 5} for e in examples]  # constant scores: Pearson is undefined
    path = write(tmp_path / "p.jsonl", rows)
    assert (
        main(
            [
                "score",
                "--benchmark",
                "critiquellm-pointwise",
                "--subset",
                "reference-free",
                "--predictions",
                str(path),
                "--root",
                str(shared_root),
                "--json",
                "--bootstrap",
                "50",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert result["pearson"] is None and "NaN" not in out


def test_points_without_a_human_score_are_left_out_like_unlabelled_pairs(tmp_path):
    """A pointwise file of 8 answers, 2 of them unscored: the 6 scored ones are the benchmark (before,
    the unscored ones were kept: predictions for the 6 were refused as incomplete, and predictions for
    all 8 handed None to scipy)."""
    import json

    from judge_core import scoring
    from judge_core.data import FileDataset, register

    rows = [{"q": f"q{i}", "a": f"answer {i}", "s": (i % 9) + 1 if i < 6 else None} for i in range(8)]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    register(
        FileDataset(
            name="points_some_unscored",
            path=str(tmp_path / "p.jsonl"),
            kind="pointwise",
            columns={"question": "q", "answer": "a", "score": "s"},
            scale=[1, 10],
        )
    )
    assert len(scoring.benchmark_examples("points_some_unscored")[1]) == 6
    preds = tmp_path / "pred.jsonl"
    preds.write_text("\n".join(json.dumps({"index": i, "score": float(i + 1)}) for i in range(6)))
    r = scoring.score("points_some_unscored", str(preds), bootstrap=0)
    assert r["protocol"] == "pointwise" and r["n"] == 6 and r["pearson"] == pytest.approx(1.0)
    preds.write_text("\n".join(json.dumps({"index": i, "score": 5.0}) for i in range(8)))
    with pytest.raises(ValueError, match="not in the benchmark"):
        scoring.score("points_some_unscored", str(preds), bootstrap=0)
