"""Every YAML in the repository parses; the cluster config has a CPU head and GPU workers."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_every_yaml_parses():
    files = [ROOT / "cluster.yaml", *sorted((ROOT / "configs").rglob("*.yaml"))]
    for path in files:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_cluster_has_cpu_head_and_gpu_workers():
    cfg = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    types = cfg["available_node_types"]
    assert "GPU" not in types[cfg["head_node_type"]]["resources"]
    assert any(t["resources"].get("GPU", 0) >= 1 and t["max_workers"] > 0 for t in types.values())
    assert cfg["max_workers"] >= max(t["max_workers"] for t in types.values())


def test_finetune_configs_validate_and_name_their_command():
    import json

    from ray_jobs.finetune.config import load_config

    files = sorted((ROOT / "configs" / "finetune").glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        cfg = load_config(path)
        assert f"judge finetune configs/finetune/{path.name}" in path.read_text()
        if cfg.deepspeed:
            assert json.loads((ROOT / cfg.deepspeed).read_text())["zero_optimization"]["stage"] in (2, 3)
    for path in (ROOT / "configs" / "deepspeed").glob("*.json"):
        assert "optimizer" not in json.loads(path.read_text())  # a client AdamW: nothing else compiles


def test_sweep_configs_validate_and_name_their_command():
    from ray_jobs.batch import load_sweep

    files = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))
    assert len(files) >= 2
    for path in files:
        cfg = load_sweep(path)
        assert f"judge sweep configs/sweeps/{path.name}" in path.read_text(), path
        assert {j.engine for j in cfg.judges} >= {"baseline"}  # baselines are reference rows in every sweep
        assert cfg.cells()
    gpu = load_sweep(ROOT / "configs" / "sweeps" / "gpu-open-judges.yaml")
    expected = {"autoj-13b": "autoj", "pandalm-7b": "pandalm", "judgelm-7b": "judgelm"}
    for judge in gpu.judges:
        if judge.name in expected:
            assert judge.templates == [expected[judge.name]]  # each fine-tuned judge gets its own prompt
    quick = load_sweep(ROOT / "configs" / "sweeps" / "quickstart-cpu.yaml", ["limit=5", "judges.3.batch_size=4"])
    assert quick.limit == 5 and quick.judges[3].batch_size == 4
    assert {j.engine for j in quick.judges} == {"baseline", "classifier", "hf", "vllm"}


def test_compare_configs_validate_and_name_their_command():
    from ray_jobs.compare import load_compare

    files = sorted((ROOT / "configs" / "compare").glob("*.yaml"))
    assert len(files) >= 2
    for path in files:
        cfg = load_compare(path, ["limit=3"])
        assert f"judge compare configs/compare/{path.name}" in path.read_text(), path
        assert cfg.limit == 3 and cfg.baseline in {m.name for m in cfg.models}


def test_serve_configs_validate_and_name_their_command():
    from ray_jobs.serve import ServeConfig, read_serve_file

    files = sorted((ROOT / "configs" / "serve").glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        text = path.read_text()
        data = yaml.safe_load(text)
        app = data["applications"][0]
        assert f"configs/serve/{path.name}" in text and app["route_prefix"] == "/"
        if app["import_path"] == "ray_jobs.serve:build_app":
            http, args = read_serve_file(path, ["max_batch_size=7", "http_options.port=8123"])
            assert ServeConfig.model_validate(args).max_batch_size == 7 and http["port"] == 8123
        else:  # Ray Serve LLM's OpenAI app: its own config type
            from ray.serve.llm import LLMConfig

            assert app["import_path"] == "ray.serve.llm:build_openai_app"
            assert all(LLMConfig(**c).lora_config for c in app["args"]["llm_configs"])


def test_gpu_open_judges_fill_one_8_gpu_node_and_start_all_on_four():
    """The scheduler's first round for configs/sweeps/gpu-open-judges.yaml (docs/cluster.md, "Sizing a sweep"):
    on one 8-GPU node the 70B judge and four 1-GPU judges start (8 GPUs), seven wait; on four such nodes
    every judge starts."""
    from ray_jobs.batch import load_sweep
    from ray_jobs.batch.schedule import Job, _largest_first, plan_round
    from ray_jobs.cluster import Nodes

    cfg = load_sweep(ROOT / "configs" / "sweeps" / "gpu-open-judges.yaml")
    jobs = sorted([Job(j.name, j.actor_bundles, j.pool[0], run=None) for j in cfg.judges], key=_largest_first)
    node = {"CPU": 192, "GPU": 8}
    one = Nodes({"n0": dict(node)})
    started, failed = plan_round(jobs, one, Nodes({"n0": dict(node)}), busy=False, joined=True)
    assert not failed and one.free["n0"]["GPU"] == 0
    gpu_judges = [j for j in started if "GPU" in j.bundles[0]]
    assert [j.name for j in gpu_judges] == ["llama3.1-70b", "qwen2.5-7b", "qwen2.5-7b-gen", "llama3.1-8b", "glm4-9b"]
    assert len(jobs) - len(started) == 7 and {"longer", "features"} <= {j.name for j in started}
    four = {f"n{i}": dict(node) for i in range(4)}
    started, _ = plan_round(jobs, Nodes(four), Nodes(dict(four)), busy=False, joined=True)
    assert len(started) == len(jobs) == 14
    assert all(j.pool == (1, None) for j in cfg.judges if j.num_gpus)  # auto: pools grow into what frees up


def test_annotate_configs_name_their_command_and_the_cpu_one_validates():
    from ray_jobs.annotate import load_annotate

    for path in sorted((ROOT / "configs" / "annotate").glob("*.yaml")):
        assert f"judge annotate configs/annotate/{path.name}" in path.read_text(), path
    cfg = load_annotate(ROOT / "configs" / "annotate" / "ultrafeedback-cpu.yaml")
    assert cfg.judge.mode == "label" and cfg.orders == "both" and cfg.input.id == "source_index"
