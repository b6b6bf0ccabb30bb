"""The README's local-head cluster commands, run verbatim: a head of our own on free ports, a sweep
submitted with `ray job submit`, the job SUCCEEDED, its results where the README says, and that
head stopped by its own pid (never `ray stop`, which would stop every Ray on the machine)."""
import os
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- cluster-local:begin -->\n```bash\n(.*?)```\n<!-- cluster-local:end -->", text, re.S)
    assert block, "the README's cluster-local block is missing"
    return block.group(1)


def _free_ports(n: int) -> list[int]:
    """n free TCP ports outside Ray's default worker range (10002-19999)."""
    ports = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 10002 <= port <= 19999 and port not in ports:
            ports.append(port)
    return ports


def _processes_of(head_dir: str, since: float) -> list[str]:
    """Processes of that head: its directory in their command line, or Ray's renamed agents and
    workers (ray::...) orphaned since the test started."""
    import psutil

    left = []
    for p in psutil.process_iter(["pid", "ppid", "cmdline", "create_time"]):
        cmd = " ".join(p.info["cmdline"] or [])
        orphan = cmd.startswith("ray::") and p.info["ppid"] == 1 and p.info["create_time"] >= since
        if head_dir in cmd or orphan:
            left.append(f"{p.info['pid']} {cmd[:80]}")
    return left


def test_the_readme_cluster_commands_give_a_succeeded_job(tmp_path, shared_root):
    gcs, dash, client, agent = _free_ports(4)
    head_dir = tempfile.mkdtemp(prefix="jh")  # short: Ray's socket paths must fit 107 bytes
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "JUDGE_"))} | {
        "GCS_PORT": str(gcs), "DASH_PORT": str(dash), "CLIENT_PORT": str(client), "AGENT_PORT": str(agent),
        "HEAD_DIR": head_dir, "LIMIT": "2", "JUDGE_DATA_DIR": str(shared_root),
        "JUDGE_RESULTS_DIR": str(tmp_path / "results"), "JUDGE_MODELS_DIR": str(tmp_path / "models")}
    start = time.time()
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", _readme_block()], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    log = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, log
    assert re.search(r"Job 'raysubmit_\w+' succeeded", run.stdout + run.stderr), log
    report = tmp_path / "results" / "baselines-job" / "report.md"
    assert report.is_file() and "## pandalm/test" in report.read_text()
    assert "33 of 33 cells ok" in run.stdout + run.stderr
    assert (tmp_path / "results" / "_models" / "features.joblib").is_file()  # trained into the results location
    deadline = time.time() + 60
    while _processes_of(head_dir, start) and time.time() < deadline:
        time.sleep(1)
    assert _processes_of(head_dir, start) == [], "the head's processes outlived it"
    print(f"cluster job round trip: {time.time() - start:.0f} s")
