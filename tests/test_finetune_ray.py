"""Fine-tuning through Ray Train with 2 CPU workers on tiny models: learning, heads, QLoRA, resume."""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ray_jobs.tiny_models import tiny_bert, tiny_llama

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def toy_data_accepted(monkeypatch):
    """The toy source stands in for a pinned training file: modified data, accepted."""
    monkeypatch.setenv("JUDGE_ACCEPT_MODIFIED_DATA", "1")


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    """A learnable toy training source: the answer saying 'good helpful correct' always wins."""
    root = tmp_path_factory.mktemp("toy")
    path = root / "train" / "ultrafeedback_sample" / "train_clean.jsonl"
    path.parent.mkdir(parents=True)
    rows = [
        {
            "prompt": f"question number {i}",
            "chosen": "good helpful correct answer",
            "rejected": "bad wrong harmful answer",
            "source_index": i,
            "metadata": {"score_chosen": 8.0, "score_rejected": 2.0},
        }
        for i in range(240)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"bert": str(tiny_bert(root / "bert")), "llama": str(tiny_llama(root / "llama"))}


def config(tmp_path, toy_root, model, **kw):
    from ray_jobs.finetune.config import FinetuneConfig

    base = {
        "name": "t",
        "model": model,
        "sources": ["train-ultrafeedback/train"],
        "data_root": str(toy_root),
        "val_fraction": 0.2,
        "batch_size": 8,
        "num_workers": 2,
        "threads_per_worker": 1,
        "storage_path": str(tmp_path / "runs"),
        "log_every": 50,
        "checkpoint_every": 1000,
        "max_length": 64,
        "warmup_ratio": 0.0,
    }
    return FinetuneConfig(**(base | kw))


def test_classifier_learns_and_adapter_reproduces_val_accuracy(ray_local, tmp_path, toy_root, models):
    from judge_core.finetune_data import build_training_set, label_in_order
    from ray_jobs.engines.classifier import ClassifierJudge
    from ray_jobs.finetune.recipe import run

    # the tiny BERT is randomly initialised, so LoRA over its frozen random weights learns
    # unreliably: the toy task trains all weights (LoRA training is covered by the other tests)
    cfg = config(tmp_path, toy_root, models["bert"], epochs=8, lr=2e-3, method="full")
    metrics = run(cfg)
    # chance is ln 3 = 1.10: the loss must have come well down, on train (with dropout) and held out
    assert metrics["val_accuracy"] >= 0.95 and metrics["val_loss"] < 0.6 and metrics["loss"] < 0.8
    assert metrics["trainable_params"] == metrics["total_params"] and metrics["non_pad_share"] > 0.5
    info = json.loads((cfg.adapter_dir() / "judgeray.json").read_text())
    assert info["metrics"]["val_accuracy"] == metrics["val_accuracy"]
    # the saved adapter, loaded as an inference engine, gives the accuracy measured in training
    _, val, _ = build_training_set(cfg.sources, cfg.val_fraction, cfg.seed, cfg.data_root)
    judge = ClassifierJudge(cfg.adapter_dir())
    hits = [
        max(range(3), key=lambda k: p[k]) == label_in_order(ex, order)
        for order in ("ab", "ba")
        for ex, p in zip(val, judge.probs(val, order))
    ]  # the judge answers in the presented frame
    assert sum(hits) / len(hits) == pytest.approx(metrics["val_accuracy"], abs=1e-9)


@pytest.mark.parametrize(
    "extra",
    [
        {"head": "generative"},
        {"head": "generative", "quantize": "nf4"},
        pytest.param({"head": "generative", "method": "prefix"}, marks=pytest.mark.extended),
        {"head": "classifier", "method": "full"},
        {"head": "pair", "pair_features": True, "head_lr": 0.05},
    ],
)
def test_heads_and_methods_train_and_save(ray_local, tmp_path, toy_root, models, extra, monkeypatch):
    from ray_jobs.engines.encoder import load_trained
    from ray_jobs.finetune.recipe import run

    model = models["llama"] if extra["head"] == "generative" else models["bert"]
    if extra == {"head": "generative"}:  # a relative base (models/NAME): Ray Train workers run elsewhere
        monkeypatch.chdir(Path(model).parent)
        model = Path(model).name
    cfg = config(
        tmp_path,
        toy_root,
        model,
        stop_after_steps=3,
        max_length=700 if extra["head"] == "generative" else 64,
        lr=1e-2,
        **extra,
    )
    metrics = run(cfg)
    assert metrics["step"] == 3 and metrics["val_loss"] == metrics["val_loss"]  # not NaN
    loaded, tok, info = load_trained(cfg.adapter_dir())
    assert info["config"]["head"] == extra["head"] and tok.pad_token_id is not None
    if extra.get("pair_features"):  # statistics came through train_loop_config, weights trained
        # only the length differs between the toy's answers: its weight moved at head_lr (3 Adam steps
        # of 0.05; lr=0.01 could not reach 0.1); the tie features are constant, so v has nothing to learn
        assert float(loaded.w[0]) > 0.1 and loaded.w[1:].abs().sum() == 0 and loaded.v.abs().sum() == 0
        chars = [math.log1p(len(a)) for a in ("good helpful correct answer", "bad wrong harmful answer")]
        assert float(loaded.f_mean[0]) == pytest.approx(sum(chars) / 2, abs=1e-6)  # every pair has both
        assert float(loaded.f_std[0]) == pytest.approx(abs(chars[0] - chars[1]) / 2, abs=1e-6)
    if extra == {"head": "generative"}:
        _adapter_in_hf_engine_matches_training_format(cfg, loaded, tok)


def _adapter_in_hf_engine_matches_training_format(cfg, trained, tok):
    """The saved LoRA adapter, loaded by the sweep's hf engine on its base model in label mode, gives
    the probabilities the trained model gives at the verdict position of the training sequence
    (the base model alone does not: checked by hand with adapter=None)."""
    import torch

    from judge_core import prompts
    from judge_core.finetune_data import build_training_set
    from judge_core.pipeline import expand
    from ray_jobs.engines.base import build_engine
    from ray_jobs.finetune.tokenize import IGNORE, generative_row
    from ray_jobs.spec import JudgeSpec

    _, val, _ = build_training_set(cfg.sources, cfg.val_fraction, cfg.seed, cfg.data_root)
    engine = build_engine(
        JudgeSpec(name="ft", engine="hf", model=cfg.model, adapter=str(cfg.adapter_dir()), mode="label")
    )
    spec = prompts.get(cfg.template).label
    rows = expand(val[:4], ("ab", "ba"))
    for i, (row, out) in enumerate(zip(rows, engine.judge(rows, cfg.template))):
        feats = generative_row(val[i // 2], row["order"], tok, cfg.max_length, cfg.template)
        first = feats["labels"].index(next(t for t in feats["labels"] if t != IGNORE))  # the verdict's first token
        word_at = first + len(tok.encode(spec.prefix, add_special_tokens=False))  # after the label prefix
        with torch.no_grad():
            logits = trained(input_ids=torch.tensor([feats["input_ids"][:word_at]])).logits[0, -1]
        word_ids = [tok.encode(spec.prefix + spec.words[v], add_special_tokens=False)[-1] for v in (0, 1, 2)]
        want = torch.softmax(logits[word_ids], -1).tolist()
        assert out["probs"] == pytest.approx(tuple(want), abs=1e-5), row


def test_killed_run_resumes_from_its_latest_checkpoint(ray_local, tmp_path, toy_root, models):
    from ray_jobs.finetune.checkpoint import latest_checkpoint
    from ray_jobs.finetune.recipe import run

    cfg = config(tmp_path, toy_root, models["bert"], epochs=1, checkpoint_every=2, num_workers=1)
    script = (
        "import sys, json; from ray_jobs.finetune.config import FinetuneConfig; "
        "from ray_jobs.finetune.recipe import run; run(FinetuneConfig(**json.loads(sys.argv[1])))"
    )
    env = os.environ | {"RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, cfg.model_dump_json()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while latest_checkpoint(cfg) is None and time.time() < deadline and proc.poll() is None:
        time.sleep(1)
    proc.kill()
    proc.wait()
    first = latest_checkpoint(cfg)
    assert first is not None, "the run never wrote a checkpoint"
    metrics = run(cfg.model_copy(update={"resume_from": "latest", "checkpoint_every": 1000}))
    from judge_core.finetune_data import build_training_set

    train, _, _ = build_training_set(cfg.sources, cfg.val_fraction, cfg.seed, cfg.data_root)
    assert metrics["resumed_from"] >= 2 and metrics["step"] == -(-len(train) // cfg.batch_size)


# the two shipped GPU recipes at toy scale: QLoRA + ZeRO-2 (qwen2.5-7b-qlora) and LoRA + ZeRO-3 (glm4-9b-lora);
# encoder heads under ZeRO were two more 90 s runs that covered no other backend path (the suite's 20 min)
@pytest.mark.parametrize(
    "zero, extra",
    [
        pytest.param(
            "zero2", {"head": "generative", "quantize": "nf4"}, marks=pytest.mark.extended
        ),  # QLoRA and ZeRO each run in CI
        ("zero3", {"head": "generative"}),
    ],
)
def test_deepspeed_zero(ray_local, tmp_path, toy_root, models, zero, extra):
    """DeepSpeed ZeRO on gloo with a client AdamW (no optimizer section, so nothing else compiles):
    trains and saves a gathered adapter that loads; ZeRO-3 (parameters partitioned too) also resumes
    from its checkpoint."""
    pytest.importorskip("deepspeed")
    from ray_jobs.engines.encoder import load_trained
    from ray_jobs.finetune.checkpoint import latest_checkpoint
    from ray_jobs.finetune.recipe import run

    root = Path(__file__).resolve().parents[1]
    model = models["llama"] if extra.get("head") == "generative" else models["bert"]
    cfg = config(
        tmp_path,
        toy_root,
        model,
        deepspeed=str(root / "configs" / "deepspeed" / f"{zero}.json"),
        stop_after_steps=4,
        checkpoint_every=2,
        lr=1e-2,
        max_length=700,
        **extra,
    )
    metrics = run(cfg)
    assert metrics["step"] == 4 and metrics["val_loss"] == metrics["val_loss"]
    loaded, _, _ = load_trained(cfg.adapter_dir())
    lora = [p for n, p in loaded.named_parameters() if "lora_B" in n]
    assert lora and any(float(p.abs().sum()) > 0 for p in lora)  # B starts at zero: it trained and was gathered
    if zero == "zero3":  # resuming ZeRO-partitioned state once is enough: our checkpoint code is the same for both
        resumed = run(cfg.model_copy(update={"resume_from": latest_checkpoint(cfg), "stop_after_steps": 6}))
        assert (resumed["resumed_from"], resumed["step"]) == (4, 6)


def test_only_complete_checkpoints_are_resumed_from(tmp_path):
    """A run killed while Ray copies a checkpoint leaves a partial directory: it must not be chosen."""
    from ray_jobs.finetune.checkpoint import checkpoint_complete, latest_checkpoint, write_manifest
    from ray_jobs.finetune.config import FinetuneConfig

    cfg = FinetuneConfig(name="t", model="m", sources=["train-ultrafeedback"], storage_path=str(tmp_path))
    for step, name in ((2, "checkpoint_a"), (4, "checkpoint_b")):
        d = tmp_path / "t" / name
        (d / "adapter").mkdir(parents=True)
        (d / "adapter" / "judgeray.json").write_text(json.dumps({"step": step}))
        (d / "trainer_state.pt").write_bytes(b"x" * 100)
        (d / "zero_rank1.pt").write_bytes(b"y" * 10)
        write_manifest(d, 0, 2)
        (d / "manifest-rank1.json").write_text(json.dumps({"ranks": 2, "files": {"zero_rank1.pt": 10}}))
    assert latest_checkpoint(cfg) == str(tmp_path / "t" / "checkpoint_b")
    (tmp_path / "t" / "checkpoint_b" / "trainer_state.pt").write_bytes(b"x" * 40)  # cut mid-copy
    assert not checkpoint_complete(tmp_path / "t" / "checkpoint_b")
    assert latest_checkpoint(cfg) == str(tmp_path / "t" / "checkpoint_a")
    (tmp_path / "t" / "checkpoint_a" / "manifest-rank1.json").unlink()  # another rank's files not there yet
    assert latest_checkpoint(cfg) is None
