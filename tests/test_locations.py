"""Data, models and results locations: the same config means the same place on a laptop and in a
Ray job; a relative results path inside a packaged job is refused; a storage URI is written through."""

import json

import pytest

from ray_jobs.finetune.config import FinetuneConfig
from ray_jobs.locations import resolve, results_location, staged
from ray_jobs.spec import JudgeSpec


def test_models_and_results_paths_follow_their_locations(monkeypatch, tmp_path):
    assert resolve("models/smollm2-135m-instruct") == "models/smollm2-135m-instruct"  # unset: as written
    monkeypatch.setenv("JUDGE_MODELS_DIR", "/nfs/models")
    monkeypatch.setenv("JUDGE_RESULTS_DIR", "s3://bucket/judge/")
    assert resolve("models/smollm2-135m-instruct") == "/nfs/models/smollm2-135m-instruct"
    assert resolve("results/finetune/minilm-cpu/adapter") == "s3://bucket/judge/finetune/minilm-cpu/adapter"
    assert resolve("results") == "s3://bucket/judge/"
    assert [resolve(p) for p in ("Qwen/Qwen2.5-7B", "/abs/models/x", "longer", "gs://b/m")] == [
        "Qwen/Qwen2.5-7B",
        "/abs/models/x",
        "longer",
        "gs://b/m",
    ]
    spec = JudgeSpec(name="j", engine="hf", model="models/m", adapter="results/finetune/a/adapter")
    assert (spec.model, spec.adapter) == ("/nfs/models/m", "s3://bucket/judge/finetune/a/adapter")
    features = JudgeSpec(
        name="f", engine="baseline", model="features", options={"path": "results/_models/features.joblib"}
    )
    assert features.opts.path == "s3://bucket/judge/_models/features.joblib"
    cfg = FinetuneConfig(name="x", model="models/m", sources=["train-llmeval2"])
    assert cfg.model == "/nfs/models/m" and cfg.storage_path == "s3://bucket/judge/finetune"


def test_a_relative_results_path_in_a_packaged_ray_job_is_refused(monkeypatch, tmp_path):
    assert results_location("results") == "results"  # not in a job
    monkeypatch.setenv(
        "RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": {"working_dir": "gcs://_ray_pkg_1.zip"}})
    )
    with pytest.raises(
        ValueError, match=r"output_dir 'results' is relative, and this Ray job runs in a temporary copy"
    ):
        results_location("results")
    assert results_location(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv("JUDGE_RESULTS_DIR", str(tmp_path / "r"))
    assert results_location("results") == str(tmp_path / "r")


def test_a_storage_uri_is_mirrored_and_resumed(tmp_path):
    uri = f"file://{tmp_path / 'bucket' / 'results'}"
    with staged(uri, log=lambda *_: None) as (local, push):
        (local / "run").mkdir()
        (local / "run" / "a.json").write_text("1")
        push()
        assert (tmp_path / "bucket" / "results" / "run" / "a.json").read_text() == "1"
        (local / "run" / "b.json").write_text("2")
    assert (tmp_path / "bucket" / "results" / "run" / "b.json").read_text() == "2"  # pushed on exit
    (tmp_path / "bucket" / "results" / "run" / "c.json").write_text("3")  # written elsewhere meanwhile
    with staged(uri, log=lambda *_: None) as (local, _):
        assert sorted(p.name for p in (local / "run").iterdir()) == ["a.json", "b.json", "c.json"]
