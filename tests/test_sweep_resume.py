"""A sweep killed mid-cell resumes without losing or duplicating a judgment; finished cells are skipped."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

pytestmark = pytest.mark.slow


def _sweep(cfg_path: Path, *flags: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "JUDGE_VERBOSE"} | {"RAY_AUTH_MODE": "disabled"}
    return subprocess.Popen(
        [sys.executable, "-m", "ray_jobs.cli", "sweep", str(cfg_path), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )


def test_killed_sweep_resumes_with_exact_counts(tmp_path, shared_root):
    cfg = {
        "name": "resume",
        "output_dir": str(tmp_path),
        "root": str(shared_root),
        "benchmarks": ["llmbar/natural", "llmbar/manual"],
        "orders": "both",
        "bootstrap": 0,
        "part_rows": 8,
        "judges": [{"name": "slow", "engine": "fake", "batch_size": 4, "options": {"delay": 0.05}}],
        "ray_init": {
            "address": "local",
            "num_cpus": 2,
            "include_dashboard": False,
            "_temp_dir": tempfile.mkdtemp(prefix="ray"),
        },
    }  # short: socket paths
    cfg_path = tmp_path / "sweep.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    parts = tmp_path / "resume" / "slow" / "label" / "llmbar-natural" / "parts"
    proc = _sweep(cfg_path)
    deadline = time.time() + 240
    while len(list(parts.glob("part-*.parquet"))) < 3:  # 200 rows at 0.05 s: killed well before the end
        assert proc.poll() is None and time.time() < deadline, (
            proc.stdout.read() if proc.poll() is not None else "timeout"
        )
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = sum(pq.read_table(p).num_rows for p in parts.glob("part-*.parquet"))
    assert 24 <= before < 200
    assert not (parts.parent / "metrics.json").exists()

    proc = _sweep(cfg_path, "--verbose")  # every line on the terminal, Ray's own included
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert f"200 rows, {before} already judged, {200 - before} to judge" in out and "streaming_executor" in out
    metrics = json.loads((parts.parent / "metrics.json").read_text())
    assert metrics["rows_this_run"] == 200 - before and metrics["rows"] == 200
    table = pq.read_table(list(parts.glob("part-*.parquet")))
    keys = list(zip(table["uid"].to_pylist(), table["order"].to_pylist()))
    assert len(keys) == len(set(keys)) == 200
    assert metrics["result"]["accuracy"] == pytest.approx(0.56)

    proc = _sweep(cfg_path)  # everything finished: both cells are skipped, the report is rewritten
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    # the quiet console: where the log is, which Ray, the bar's last line, the summary; Ray's lines are in the log only
    log = tmp_path / "resume" / "logs" / out.splitlines()[0].rpartition("/")[2]
    assert out.splitlines()[0] == f"log: {log}" and out.splitlines()[-1].startswith("2 of 2 cells ok; "), out
    assert out.splitlines()[1] == "started a local Ray: 2 CPUs", out
    assert len(out.splitlines()) == 4 and "resume: 2/2 cells" in out and "INFO" not in out, out
    logged = log.read_text()
    assert logged.count("[skip]") == 2 and "Started a local Ray instance" in logged
    assert "llmbar/manual" in (tmp_path / "resume" / "report.md").read_text()
