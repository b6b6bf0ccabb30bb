"""The local-head cluster commands of docs/cluster.md, run verbatim: a head of our own on free ports; a sweep,
a compare, a fine-tune and a server submitted with `ray job submit`; every job SUCCEEDED, results and
adapter where the page says, the served judge answers; and that head stopped by its own pid (never
`ray stop`, which would stop every Ray on the machine)."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _page_blocks() -> str:
    """Every bash block between the cluster-local markers of docs/cluster.md, in order, as one script."""
    text = (ROOT / "docs" / "cluster.md").read_text()
    section = re.search(r"<!-- cluster-local:begin -->(.*?)<!-- cluster-local:end -->", text, re.S)
    assert section, "the cluster-local section of docs/cluster.md is missing"
    blocks = re.findall(r"```bash\n(.*?)```", section.group(1), re.S)
    assert len(blocks) == 4, "head, sweep, other verbs, stop"
    return "\n".join(blocks)


def _answers(path: Path, model: str, questions: list[dict]) -> str:
    """A FastChat model_answer file for the first questions: one answer per turn."""
    rows = [
        {
            "question_id": q["question_id"],
            "model_id": model,
            "choices": [
                {"index": 0, "turns": [f"{model} answers: {t[:40]}" * (1 + (model == "b")) for t in q["turns"]]}
            ],
        }
        for q in questions
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


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


def test_the_cluster_page_commands_give_succeeded_jobs(tmp_path, shared_root):
    gcs, dash, client, agent, serve_port = _free_ports(5)
    head_dir = tempfile.mkdtemp(prefix="jh")  # short: Ray's socket paths must fit 107 bytes
    questions = [json.loads(line) for line in (shared_root / "mt_bench" / "fastchat" / "question.jsonl").open()][:2]
    compact = {"separators": (",", ":")}  # one word each: the page's commands expand the overrides unquoted
    models = json.dumps(
        [{"name": m, "answers": _answers(tmp_path / f"{m}.jsonl", m, questions)} for m in "ab"], **compact
    )
    judge = json.dumps({"name": "longer", "engine": "baseline", "model": "longer"}, **compact)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "JUDGE_"))} | {
        "GCS_PORT": str(gcs),
        "DASH_PORT": str(dash),
        "CLIENT_PORT": str(client),
        "AGENT_PORT": str(agent),
        "SERVE_PORT": str(serve_port),
        "HEAD_DIR": head_dir,
        "LIMIT": "2",
        "JUDGE_DATA_DIR": str(shared_root),
        "JUDGE_RESULTS_DIR": str(tmp_path / "results"),
        "JUDGE_MODELS_DIR": str(tmp_path / "models"),
        "COMPARE_OVERRIDES": f"name=compare-job limit=2 pointwise=false baseline=a models={models} judge={judge}",
        "FINETUNE_OVERRIDES": "stop_after_steps=2 limit_per_source=8 batch_size=4 checkpoint_every=1000",
    }
    start = time.time()
    # A command that fails stops the script before the page's own stop block: stop that head anyway,
    # the page's way, so a failed run leaves no Ray behind (the check below still sees it if it did).
    stop_head = "trap 'set +e; [ -n \"${HEAD_PID:-}\" ] && kill $HEAD_PID 2>/dev/null && wait $HEAD_PID; true' EXIT\n"
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", stop_head + _page_blocks()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert len(re.findall(r"Job 'raysubmit_\w+' succeeded", out)) == 3, out[-6000:]  # sweep, compare, finetune
    report = tmp_path / "results" / "baselines-job" / "report.md"
    assert report.is_file() and "## pandalm/test" in report.read_text() and "33 of 33 cells ok" in out
    assert (tmp_path / "results" / "_models" / "features.joblib").is_file()  # trained into the results location
    assert json.loads((tmp_path / "results" / "compare-job" / "compare.json").read_text())["questions"] == 2
    assert (tmp_path / "results" / "finetune" / "minilm-cpu" / "adapter" / "judgeray.json").is_file()
    served, _ = json.JSONDecoder().raw_decode(run.stdout, run.stdout.index('{"verdict"'))
    assert served["verdict"] in (0, 1, 2) and served["error"] is None
    deadline = time.time() + 60
    while _processes_of(head_dir, start) and time.time() < deadline:
        time.sleep(1)
    assert _processes_of(head_dir, start) == [], "the head's processes outlived it"
    shutil.rmtree(head_dir, ignore_errors=True)  # the head's logs and sockets: nothing runs there any more
    print(f"cluster job round trip: {time.time() - start:.0f} s")
