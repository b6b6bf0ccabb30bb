"""Results bound to their data, locked results folders, unreadable parts judged again, rows lost to
bad records reported (the failures a hostile-user probe measured, each reproduced here)."""

import json
import os
import shutil
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from judge_core.data import load
from ray_jobs.batch import SweepConfig, run_cell, run_sweep
from ray_jobs.report.text import print_cells
from ray_jobs.spec import JudgeSpec
from ray_jobs.store import Cell, ResultsLocked, locked

FAKE = JudgeSpec(name="fake", engine="fake", batch_size=64)


def _autoj_root(tmp_path, shared_root, keep=None, name="data"):
    """A data root whose Auto-J test file holds the first `keep` lines of the real one."""
    real = shared_root / "autoj" / "testdata_pairwise.jsonl"
    path = tmp_path / name / "autoj" / "testdata_pairwise.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = real.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:keep]))
    return path.parent.parent, path


def test_the_cell_hash_carries_the_examples_content(shared_root):
    examples, _ = load("llmbar", "natural", root=shared_root)
    cell = Cell(FAKE, "label", "llmbar", "natural")
    cell.loaded = examples
    full = cell.config_hash()
    cell.loaded = examples[:50]
    assert cell.config_hash() != full
    cell.loaded = [examples[0].model_copy(update={"answer1": examples[0].answer1 + "!"})] + examples[1:]
    assert cell.config_hash() != full


def test_a_results_folder_is_locked_and_a_dead_holder_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from ray_jobs.store import locked\n"
            f"with locked(Path({str(tmp_path / 'run')!r})):\n    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with (
        pytest.raises(ResultsLocked, match=rf"{tmp_path / 'run'} is being written by pid {holder.pid} on "),
        locked(tmp_path / "run"),
    ):
        pass
    holder.kill()  # SIGKILL: no clean-up ran in the holder
    holder.wait()
    said = []
    with locked(tmp_path / "run", log=said.append):
        assert f"pid {os.getpid()} " in (tmp_path / "run" / ".lock").read_text()
    assert said and f"took over the lock of pid {holder.pid}" in said[0]
    assert (tmp_path / "run" / ".lock").read_text() == ""  # released cleanly


def test_a_sweep_on_a_locked_folder_is_refused(tmp_path, shared_root):
    cfg = SweepConfig(
        name="run",
        output_dir=str(tmp_path),
        judges=[FAKE],
        benchmarks=["llmbar/natural"],
        root=str(shared_root),
        bootstrap=0,
    )
    with locked(tmp_path / "run"), pytest.raises(ResultsLocked, match=f"pid {os.getpid()}"):
        run_sweep(cfg, log=lambda *_: None)


@pytest.mark.slow
def test_results_are_bound_to_the_data_they_were_computed_from(ray_local, tmp_path, shared_root, capsys):
    root, path = _autoj_root(tmp_path, shared_root, keep=700)  # the file cut in half, as in the probe
    cfg = SweepConfig(
        name="run",
        output_dir=str(tmp_path / "res"),
        judges=[FAKE],
        benchmarks=["autoj"],
        root=str(root),
        bootstrap=0,
        orders="ab",
    )
    status = run_sweep(cfg, log=lambda *_: None)
    assert str(status["fake/label/autoj-test"]).startswith("failed: ModifiedDataError") and print_cells(status) == 1
    assert str(path) in status["fake/label/autoj-test"].reason

    accepted = cfg.model_copy(update={"accept_modified_data": True})
    status = run_sweep(accepted, log=lambda *_: None)
    assert str(status["fake/label/autoj-test"]).startswith(f"ok: judged modified data {path}")
    assert print_cells(status) == 0 and "[data] fake/label/autoj-test: judged modified data" in capsys.readouterr().out
    cell_dir = tmp_path / "res" / "run" / "fake" / "label" / "autoj-test"
    assert json.loads((cell_dir / "metrics.json").read_text())["rows"] == 700
    report = (tmp_path / "res" / "run" / "report.md").read_text()
    assert "fake ‡" in report and "Cells whose data lost rows or was modified" in report

    shutil.copy(shared_root / "autoj" / "testdata_pairwise.jsonl", path)  # the file fixed afterwards
    said = []
    status = run_sweep(cfg, log=said.append)
    assert str(status["fake/label/autoj-test"]) == "ok" and not any("[skip]" in s for s in said)
    assert json.loads((cell_dir / "metrics.json").read_text())["rows"] == 1392  # judged again, in full
    assert "fake ‡" not in (tmp_path / "res" / "run" / "report.md").read_text()


@pytest.mark.slow
def test_rows_lost_to_bad_records_fail_the_cell_unless_skipping_was_asked(
    ray_local, tmp_path, shared_root, capsys, monkeypatch
):
    monkeypatch.setenv("JUDGE_ACCEPT_MODIFIED_DATA", "1")
    root, path = _autoj_root(tmp_path, shared_root, keep=40)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[6] = lines[6].replace(b'"prompt": "', b'"prompt": "\xff')  # line 7: not UTF-8
    path.write_bytes(b"".join(lines))
    cfg = SweepConfig(
        name="bad",
        output_dir=str(tmp_path / "res"),
        judges=[FAKE],
        benchmarks=["autoj"],
        root=str(root),
        bootstrap=0,
        orders="ab",
    )
    status = run_sweep(cfg, log=lambda *_: None)
    assert "line 7 (example 6): not valid UTF-8 (byte 0xff)" in status["fake/label/autoj-test"].reason
    assert print_cells(status) == 1
    status = run_sweep(cfg.model_copy(update={"on_bad_record": "skip"}), log=lambda *_: None)
    assert str(status["fake/label/autoj-test"]).startswith("ok: skipped 1 bad records") and print_cells(status) == 0
    assert "skipped 1 bad records" in capsys.readouterr().out
    report = (tmp_path / "res" / "bad" / "report.md").read_text()
    assert "| 39 | 1 bad" in report  # n and rows dropped in the cell's row


@pytest.mark.slow
def test_unreadable_and_doubled_parts_are_repaired_not_fatal(ray_local, tmp_path, shared_root):
    cell = Cell(FAKE, "label", "llmbar", "natural", ("ab", "ba"), root=str(shared_root))
    run_cell(cell, tmp_path, part_rows=50, bootstrap=0, log=lambda *_: None)
    cell_dir = tmp_path / cell.key
    parts = sorted((cell_dir / "parts").glob("part-*.parquet"))
    assert len(parts) == 4
    shutil.copy(parts[0], cell_dir / "parts" / "part-00004.parquet")  # 50 rows stored twice (two writers)
    parts[1].write_bytes(parts[1].read_bytes()[:100])  # truncated by a crash
    parts[2].write_bytes(b"")  # empty
    (cell_dir / "metrics.json").unlink()
    said = []
    metrics = run_cell(
        Cell(FAKE, "label", "llmbar", "natural", ("ab", "ba"), root=str(shared_root)),
        tmp_path,
        part_rows=50,
        bootstrap=0,
        log=said.append,
    )
    assert sum("[moved aside]" in s for s in said) == 2
    assert sorted(p.name for p in (cell_dir / "parts" / "unreadable").iterdir()) == [parts[1].name, parts[2].name]
    assert metrics["rows_this_run"] == 100 and metrics["rows"] == 200 and metrics["stored_twice_or_stray"] == 50
    table = pq.read_table(sorted((cell_dir / "parts").glob("part-*.parquet")))
    assert table.num_rows == 250 and len(set(zip(table["uid"].to_pylist(), table["order"].to_pylist()))) == 200


@pytest.mark.slow
def test_a_killed_driver_leaves_no_ray_processes():
    import tempfile

    import psutil

    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must fit 107 bytes
    script = (
        "import time; from ray_jobs.ray_lifecycle import ensure_ray\n"
        f"ensure_ray({{'address': 'local', 'num_cpus': 1, 'include_dashboard': False, '_temp_dir': {temp!r}}})\n"
        "print('up', flush=True); time.sleep(600)"
    )
    driver = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"RAY_AUTH_MODE": "disabled"},
    )
    assert driver.stdout.readline().strip() == "up"
    deadline = time.time() + 30
    names = set()
    while not {"ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names and time.time() < deadline:
        started = psutil.Process(driver.pid).children(recursive=True)
        names = {n for p in started for n in [_name(p)] if n}
        time.sleep(0.5)
    assert {"raylet", "gcs_server", "ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names
    driver.kill()  # SIGKILL: the driver runs no clean-up of its own
    driver.wait()
    _gone, alive = psutil.wait_procs(started, timeout=30)
    assert alive == [], [_name(p) for p in alive]


def _name(p):
    import psutil

    try:
        return p.cmdline()[0] if p.cmdline() and p.cmdline()[0].startswith("ray::") else p.name()
    except psutil.Error:
        return None
