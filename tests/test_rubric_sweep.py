"""A sweep with a YAML rubric template (Prometheus-2 absolute grading) judges CritiqueLLM's pointwise
subsets with SmolLM2 in label and generate mode, through Ray Data actors that load the template the
driver registered (issue 29, part 2)."""

from ray_jobs.batch import SweepConfig
from ray_jobs.batch.sweep import run_sweep
from ray_jobs.store import read_parts


def test_a_rubric_template_judges_critiquellm_pointwise_with_smollm2(ray_local, tmp_path, shared_root, smollm2):
    # 1024 positions: AlignBench's long answers are cut, the template's instructions and rubric never
    judge = {
        "engine": "hf",
        "model": smollm2,
        "batch_size": 4,
        "options": {"max_new_tokens": 32, "max_model_len": 1024},
    }
    cfg = SweepConfig.model_validate(
        {
            "name": "rubric",
            "output_dir": str(tmp_path),
            "judges": [judge | {"name": "smol-label", "mode": "label"}, judge | {"name": "smol-gen"}],
            "templates": [{"path": "configs/templates/prometheus-absolute.yaml", "name": "prom-helpful"}],
            "benchmarks": ["critiquellm-pointwise"],
            "limit": 2,
            "root": str(shared_root),
            "bootstrap": 0,
        }
    )
    status = run_sweep(cfg, log=lambda *_: None)
    assert set(status) == {
        f"{j}/prom-helpful/critiquellm-pointwise-{s}"
        for j in ("smol-label", "smol-gen")
        for s in ("reference-based", "reference-free")
    }
    assert all(s.ok for s in status.values()), status
    for key in status:
        rows = read_parts(tmp_path / "rubric" / key).to_pylist()
        failures = [r["error"] for r in rows if r["error"]]  # counted, each with the reason it did not parse
        assert len(rows) == 2 and all(e.startswith(("no verdict like", "rating")) for e in failures)
        for r in rows:
            if key.startswith("smol-label"):  # one forward pass: the expected rating over [RESULT] 1..5
                assert 1 <= r["scores"][0] <= 5 and r["raw"] is None
            else:  # generate mode: SmolLM2's own text, read by prometheus-eval's rule or failed with the reason
                assert r["raw"] and ((r["scores"] and 1 <= r["scores"][0] <= 5) or r["error"])
