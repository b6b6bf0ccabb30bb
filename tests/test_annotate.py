"""`judge annotate`: shards cut from the input alone, every row out exactly once, resumable after SIGKILL."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from ray_jobs.annotate import AnnotateConfig, run_annotate
from ray_jobs.annotate import shards as S

COLUMNS = {"question": "prompt", "answer1": "a", "answer2": "b"}


@pytest.fixture(scope="module")
def prefs(shared_root, tmp_path_factory) -> pd.DataFrame:
    """600 real preference pairs (UltraFeedback's train sample), chosen shown first, with an id."""
    rows = [json.loads(line) for line in (shared_root / "train/ultrafeedback_sample/train_clean.jsonl").open()][:600]
    return pd.DataFrame(
        [{"rid": f"uf-{i}", "prompt": r["prompt"], "a": r["chosen"], "b": r["rejected"]} for i, r in enumerate(rows)]
    )


def longer(df: pd.DataFrame) -> pd.Series:
    la, lb = df["a"].str.len(), df["b"].str.len()
    return (la > lb).map({True: 1, False: 2}).where(la != lb, 0)


def _cfg(tmp_path, path, **kw) -> AnnotateConfig:
    return AnnotateConfig.model_validate(
        {
            "input": {"path": str(path), "columns": COLUMNS, "id": "rid"},
            "judge": {"name": "longer", "engine": "baseline", "model": "longer"},
            "output": str(tmp_path / "out"),
            "shard_rows": 64,
        }
        | kw
    )


# ---- the cut (no Ray) ------------------------------------------------------------------------------------
def test_jsonl_shards_cut_at_lines_and_read_back_exactly(tmp_path):
    lines = [json.dumps({"i": i}) for i in range(10)]
    lines.insert(3, "")  # a blank line is no record
    lines[7] = "{not json"
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n")
    shards, columns = S.plan(str(path), None, 4)
    assert columns == ["i"] and [(s.first, s.rows, s.line) for s in shards] == [(0, 4, 1), (4, 4, 6), (8, 2, 10)]
    got = [(at.line, r if isinstance(r, dict) else str(r)) for s in shards for at, r in S.read(s)]
    assert [line for line, _ in got] == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert got[6][1].startswith(f"{path}, line 8 (example 6): not valid JSON")
    assert [r["i"] for _, r in got if isinstance(r, dict)] == [0, 1, 2, 3, 4, 5, 7, 8, 9]


def test_parquet_shards_read_only_their_rows(tmp_path, prefs):
    path = tmp_path / "p.parquet"
    prefs.to_parquet(path, row_group_size=100)
    shards, columns = S.plan(str(path), None, 64)
    assert columns == ["rid", "prompt", "a", "b"] and len(shards) == 10 and shards[-1].rows == 600 - 9 * 64
    rows = [r["rid"] for s in shards for _, r in S.read(s)]
    assert rows == prefs["rid"].tolist()
    with pytest.raises(ValueError, match="cannot be cut into shards"):
        S.plan(str(tmp_path / "p.parquet"), "csv", 64)


# ---- a run (one local Ray for the module) ---------------------------------------------------------------
def test_every_row_comes_out_once_with_its_verdict_and_a_rerun_judges_nothing(ray_local, tmp_path, prefs):
    bad = prefs.copy()
    bad.loc[5, "b"] = "   "  # stays in the output, with why
    path = tmp_path / "in.parquet"
    bad.to_parquet(path, row_group_size=128)
    cfg = _cfg(tmp_path, path)
    blank = bad[["prompt", "a", "b"]].apply(lambda c: c.str.strip() == "").any(axis=1)  # the sample has some too
    first = run_annotate(cfg, log=lambda *_: None)
    assert first["rows"] == first["judged_now"] == 600 and first["shards"] == 10
    assert first["errors_now"] == blank.sum() > 1
    out = pd.read_parquet(tmp_path / "out").sort_values("input_row")
    assert len(out) == 600 and out["rid"].is_unique and out["rid"].tolist() == bad["rid"].tolist()
    assert list(out.columns[:4]) == ["rid", "prompt", "a", "b"]
    good = out[~blank.to_numpy()]
    assert (good["verdict"] == longer(bad)[~blank]).all() and good["consistent"].all()
    assert (
        out[blank.to_numpy()]["verdict"].isna().all()
        and out[blank.to_numpy()]["error"].str.contains("empty text").all()
    )
    assert out.loc[5, "error"] == f"{path}, row 6 (example 5), field 'b': empty text" and pd.isna(out.loc[5, "verdict"])
    again = run_annotate(cfg, log=lambda *_: None)
    assert again["judged_now"] == 0 and again["rows"] == 600
    with pytest.raises(ValueError, match="holds an annotation of another judge"):
        run_annotate(_cfg(tmp_path, path, orders="ab"), log=lambda *_: None)


def test_label_mode_gives_probabilities_and_both_orders(ray_local, tmp_path, prefs):
    path = tmp_path / "in.jsonl"
    prefs.head(40).to_json(path, orient="records", lines=True)
    cfg = _cfg(tmp_path, path, judge={"name": "fake", "engine": "fake", "mode": "label"}, template="label")
    run_annotate(cfg, log=lambda *_: None)
    out = pd.read_parquet(tmp_path / "out")
    assert len(out) == 40 and out[["p_tie", "p1", "p2"]].sum(axis=1).round(6).eq(1).all()
    assert set(out["verdict_ab"]) <= {0, 1, 2} and out["verdict"].notna().all()


def test_pointwise_input_gets_a_score_per_row(ray_local, tmp_path, prefs):
    path = tmp_path / "points.jsonl"
    prefs.head(12).rename(columns={"a": "answer"}).drop(columns="b").to_json(path, orient="records", lines=True)
    cfg = AnnotateConfig.model_validate(
        {
            "input": {"path": str(path), "kind": "pointwise", "columns": {"question": "prompt"}, "id": "rid"},
            "judge": {"name": "fake", "engine": "fake", "mode": "label"},
            "template": "mtbench-single",
            "output": str(tmp_path / "out"),
        }
    )
    run_annotate(cfg, log=lambda *_: None)
    out = pd.read_parquet(tmp_path / "out").sort_values("input_row")
    assert len(out) == 12 and out["score"].between(1, 10).all() and out["verdict"].isna().all()
    assert "verdict_ab" in out and out["verdict_ab"].isna().all()  # one answer: one order, nothing to compare
    with pytest.raises(ValueError, match="template label does not fit pointwise input"):
        AnnotateConfig.model_validate(cfg.model_dump() | {"template": "label"})


def test_best_of_a_sweep_annotates_with_the_judge_that_won(ray_local, tmp_path, prefs, shared_root):
    from ray_jobs.batch import SweepConfig, run_sweep

    sweep = SweepConfig.model_validate(
        {
            "name": "won",
            "output_dir": str(tmp_path),
            "root": str(shared_root),
            "bootstrap": 0,
            "benchmarks": ["llmbar/natural"],
            "judges": [
                {"name": "longer", "engine": "baseline", "model": "longer"},
                {"name": "first", "engine": "fake", "options": {"rule": "first"}},
            ],
        }
    )
    run_sweep(sweep, log=lambda *_: None)
    path = tmp_path / "in.parquet"
    prefs.head(30).to_parquet(path)
    cfg = _cfg(tmp_path, path, judge={"best_of": str(tmp_path / "won")})
    assert cfg.judge.name == "longer" and "mean rank 1.00" in cfg.picked["why"]  # always-first is at chance
    run_annotate(cfg, log=lambda *_: None)
    manifest = json.loads((tmp_path / "out" / "_annotate.json").read_text())
    assert manifest["picked"]["judge"] == "longer" and manifest["rows"] == 30


# ---- SIGKILL of the driver, twice -------------------------------------------------------------------------
def _annotate(cfg_path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "JUDGE_VERBOSE"} | {"RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen(
        [sys.executable, "-m", "ray_jobs.cli", "annotate", str(cfg_path)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.slow
def test_killed_twice_then_rerun_every_row_once_and_the_same_verdicts(ray_local, tmp_path, prefs):
    path = tmp_path / "in.parquet"
    prefs.to_parquet(path, row_group_size=100)
    judge = {"name": "slow", "engine": "fake", "batch_size": 8, "options": {"delay": 0.004}}
    cfg = {
        "input": {"path": str(path), "columns": COLUMNS, "id": "rid"},
        "judge": judge,
        "template": "label",
        "output": str(tmp_path / "killed"),
        "shard_rows": 20,
        "ray_init": {
            "address": "local",
            "num_cpus": 2,
            "include_dashboard": False,
            "_temp_dir": tempfile.mkdtemp(prefix="ray"),
        },
    }
    cfg_path = tmp_path / "annotate.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    shards_seen = []
    for kill_after in (4, 12):  # shard files present when the driver is killed
        proc = _annotate(cfg_path)
        deadline = time.time() + 240
        while len(list((tmp_path / "killed").glob("shard-*.parquet"))) < kill_after:
            assert proc.poll() is None and time.time() < deadline, (
                proc.stdout.read() if proc.poll() is not None else "timeout"
            )
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shards_seen.append(len(list((tmp_path / "killed").glob("shard-*.parquet"))))
    assert shards_seen[0] < shards_seen[1] < 30  # killed mid-run both times
    proc = _annotate(cfg_path)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    now = int(re.search(r"annotated 600 rows in 30 shards \((\d+) judged now", out).group(1))
    assert 0 < now <= 20 * (30 - shards_seen[1]) and now % 20 == 0, out  # only the shards without a file
    killed = pd.read_parquet(tmp_path / "killed").sort_values("rid").reset_index(drop=True)
    assert len(killed) == 600 and killed["rid"].is_unique
    assert not list((tmp_path / "killed").glob(".tmp-*"))
    calm = AnnotateConfig.model_validate(cfg | {"output": str(tmp_path / "calm"), "ray_init": {}})
    run_annotate(calm, log=lambda *_: None)
    calm_out = pd.read_parquet(tmp_path / "calm").sort_values("rid").reset_index(drop=True)
    cols = ["rid", "input_row", "verdict", "verdict_ab", "verdict_ba", "p1"]
    pd.testing.assert_frame_equal(killed[cols], calm_out[cols])
    assert pq.read_schema(next((tmp_path / "killed").glob("shard-*.parquet"))).names[:4] == ["rid", "prompt", "a", "b"]
