"""GPU paths: QLoRA with bitsandbytes CUDA kernels and DDP/ZeRO on NCCL. Skipped without CUDA;
run them on a GPU node with `.venv/bin/python -m pytest -q -m gpu`."""

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.slow, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_qlora_generative_on_cuda(tmp_path):
    from ray_jobs.finetune.config import FinetuneConfig
    from ray_jobs.finetune.model import load_model, load_tokenizer
    from ray_jobs.tiny_models import tiny_llama

    cfg = FinetuneConfig(
        name="g",
        model=str(tiny_llama(tmp_path / "llama")),
        head="generative",
        quantize="nf4",
        bf16=True,
        sources=["train-ultrafeedback"],
        use_gpu=True,
    )
    tok = load_tokenizer(cfg)
    model = load_model(cfg, tok).to("cuda")
    ids = torch.tensor([tok.encode("good helpful correct answer")], device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model(input_ids=ids, labels=ids).loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_" in n)


def test_ray_train_nccl_zero2(tmp_path):
    import json
    from pathlib import Path

    import ray

    from ray_jobs.finetune.config import FinetuneConfig
    from ray_jobs.finetune.recipe import run
    from ray_jobs.tiny_models import tiny_bert

    root = tmp_path / "data" / "train" / "ultrafeedback_sample"
    root.mkdir(parents=True)
    rows = [
        {
            "prompt": f"q{i}",
            "chosen": "good helpful correct answer",
            "rejected": "bad wrong harmful answer",
            "source_index": i,
            "metadata": {"score_chosen": 8.0, "score_rejected": 2.0},
        }
        for i in range(64)
    ]
    (root / "train_clean.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ray.init(address="local", include_dashboard=False)
    try:
        n_gpus = int(ray.cluster_resources().get("GPU", 0))
        cfg = FinetuneConfig(
            name="nccl",
            model=str(tiny_bert(tmp_path / "bert")),
            sources=["train-ultrafeedback/train"],
            data_root=str(tmp_path / "data"),
            num_workers=max(1, n_gpus),
            use_gpu=True,
            bf16=True,
            deepspeed=str(Path(__file__).resolve().parents[1] / "configs/deepspeed/zero2.json"),
            storage_path=str(tmp_path / "runs"),
            stop_after_steps=3,
            batch_size=4,
        )
        assert run(cfg)["step"] == 3
    finally:
        ray.shutdown()
