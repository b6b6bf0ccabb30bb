"""Where data, models and results live: the same config means the same place on a laptop and in a
Ray job (`ray job submit --working-dir .` runs the driver in a temporary copy of the project).

    JUDGE_DATA_DIR     benchmark files (else ./data, else ../shared/data: judge_core.data.data_root)
    JUDGE_MODELS_DIR   where a config's `models/NAME` lives (default ./models)
    JUDGE_RESULTS_DIR  where a config's `results/...` lives, sweeps' and compares' default output_dir
                       included (default ./results); a directory or a storage URI (s3://, gs://,
                       file://), as Ray Train's storage_path

    resolve("models/smollm2-135m-instruct")    # $JUDGE_MODELS_DIR/smollm2-135m-instruct when set
    results_location("results")                # refused inside a packaged Ray job when relative

A relative results path inside a Ray job's packaged working directory would be written into the
job's temporary copy and lost: it is refused, with what to pass instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

PREFIXES = {"models": "JUDGE_MODELS_DIR", "results": "JUDGE_RESULTS_DIR"}


def is_uri(path: str) -> bool:
    return "://" in path


def resolve(path: str | None) -> str | None:
    """`models/...` and `results/...` under their locations when these are set; anything else as is."""
    if not path or is_uri(path) or Path(path).is_absolute():
        return path
    head, _, rest = path.partition("/")
    base = os.environ.get(PREFIXES.get(head, ""), "")
    if not base:
        return path
    return f"{base.rstrip('/')}/{rest}" if rest else base


def packaged_job_dir() -> str | None:
    """The working directory Ray unpacked for this job driver, or None outside such a job."""
    config = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}")
    if config.get("runtime_env", {}).get("working_dir") or "runtime_resources" in os.getcwd():
        return os.getcwd()
    return None


def results_location(output_dir: str | None) -> str:
    """The results location of a sweep or compare: `output_dir` (default: results), resolved; a
    relative one inside a packaged Ray job is refused (the results would vanish with the job's copy)."""
    path = resolve(output_dir or "results")
    job_dir = packaged_job_dir()
    if job_dir and not is_uri(path) and not Path(path).is_absolute():
        raise ValueError(
            f"output_dir {path!r} is relative, and this Ray job runs in a temporary copy of the project "
            f"({job_dir}): the results would be lost with it. Pass an absolute path or a storage URI: "
            "output_dir=/shared/results (s3://bucket/results, gs://...), or set JUDGE_RESULTS_DIR in the job's "
            'runtime_env: --runtime-env-json \'{"env_vars": {"JUDGE_RESULTS_DIR": "/shared/results"}}\''
        )
    return path


def run_location(output_dir: str | None, name: str) -> str:
    """Where a sweep's or compare's run named `name` writes: <results location>/<name> (a path or URI)."""
    return f"{results_location(output_dir).rstrip('/')}/{name}"


@contextlib.contextmanager
def staged(location: str, log=print):
    """(local directory, push) for a results location. A local path is used as is (push does
    nothing). A storage URI is mirrored: its current content is copied into a local staging
    directory (so a re-run resumes), written there, and pushed back by push() and on exit."""
    if not is_uri(location):
        yield Path(location), lambda: None
        return

    fs, remote = pafs.FileSystem.from_uri(location)
    local = Path(tempfile.gettempdir()) / "judgeray-staging" / hashlib.sha256(location.encode()).hexdigest()[:16]
    local.mkdir(parents=True, exist_ok=True)
    if fs.get_file_info(remote).type == pafs.FileType.Directory:
        pafs.copy_files(remote, str(local), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())

    def push() -> None:
        fs.create_dir(remote, recursive=True)
        pafs.copy_files(str(local), remote, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)

    log(f"[results] {location} staged in {local}")
    try:
        yield local, push
    finally:
        push()
