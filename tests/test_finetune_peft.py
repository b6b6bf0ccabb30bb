"""PEFT wiring without Ray: frozen base, changing adapter, QLoRA gradients after an eval pass, features."""

import pytest
import torch

from judge_core.schema import PairExample
from ray_jobs.engines.encoder import classifier_input
from ray_jobs.finetune.config import FinetuneConfig, load_config
from ray_jobs.finetune.model import load_model, load_tokenizer
from ray_jobs.finetune.tokenize import IGNORE, generative_row
from ray_jobs.tiny_models import tiny_bert, tiny_llama


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {"bert": str(tiny_bert(root / "bert")), "llama": str(tiny_llama(root / "llama"))}


def cfg(model, **kw):
    return FinetuneConfig(**({"name": "t", "model": model, "sources": ["train-ultrafeedback"]} | kw))


def one_step(model, batch):
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    loss = model(**batch).loss
    loss.backward()
    opt.step()
    return loss


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def changed(before, model):
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}


def test_classifier_lora_freezes_base_and_trains_adapter_and_head(models):
    c = cfg(models["bert"], lora={"rank": 4, "alpha": 8, "target_modules": ["query", "value"]})
    tok = load_tokenizer(c)
    model = load_model(c, tok)
    before = snapshot(model)
    ids = torch.tensor([[tok.cls_token_id, 5, 6, tok.sep_token_id]] * 2)
    one_step(model, {"input_ids": ids, "labels": torch.tensor([1, 2])})
    moved = changed(before, model)
    assert moved and all("lora_" in n or "classifier" in n for n in moved)
    assert any("lora_" in n for n in moved) and any("classifier" in n for n in moved)
    frozen = [n for n, p in model.named_parameters() if "lora_" not in n and "classifier" not in n]
    assert frozen and not any(model.get_parameter(n).requires_grad for n in frozen)


def test_generative_lora_loss_only_on_verdict(models):
    c = cfg(models["llama"], head="generative", template="label")
    tok = load_tokenizer(c)
    ex = PairExample(
        benchmark="b", subset="s", index=0, question="what is two plus two?", answer1="four", answer2="five", label=1
    )
    feats = generative_row(ex, "ba", tok, 512, "label")
    supervised = [t for t in feats["labels"] if t != IGNORE]
    assert tok.decode(supervised) == "[2]" + tok.eos_token  # swapped: the better answer is shown second
    model = load_model(c, tok)
    before = snapshot(model)
    one_step(model, {"input_ids": torch.tensor([feats["input_ids"]]), "labels": torch.tensor([feats["labels"]])})
    assert all("lora_" in n for n in changed(before, model))


def test_truncation_keeps_question_and_both_answers(models):
    tok = load_tokenizer(cfg(models["bert"]))
    long = " ".join(["fox"] * 400)
    ex = PairExample(benchmark="b", subset="s", index=0, question=long, answer1="good answer", answer2=long, label=1)
    ids = classifier_input(ex, "ab", tok, 64)
    assert len(ids) == 64 and ids.count(tok.sep_token_id) == 3
    assert "good answer" in tok.decode(ids)
    llama = load_tokenizer(cfg(models["llama"]))
    gen = generative_row(ex, "ab", llama, 1024, "label")
    text = llama.decode(gen["input_ids"])
    assert len(gen["input_ids"]) <= 1024 and "good answer" in text and text.count("fox") > 20
    assert text.rstrip().endswith("[1]" + llama.eos_token) and "Which answer is better?" in text
    with pytest.raises(ValueError, match="leaves no room"):
        generative_row(ex, "ab", llama, 100, "label")
    # the engines' truncation rule, not a training-only one: cuts end in "…", the reference stays,
    # and the prompt is exactly what the hf/vllm engines build for the same budget
    from ray_jobs.engines.prompting import ELLIPSIS, fit_prompt

    ref = ex.model_copy(update={"reference": "the reference answer"})
    gen = generative_row(ref, "ba", llama, 1024, "label")
    prompt = [t for t, lab in zip(gen["input_ids"], gen["labels"]) if lab == IGNORE]
    text = llama.decode(prompt)
    assert ELLIPSIS in text and "the reference answer" in text and "good answer" in text
    budget = 1024 - (len(gen["input_ids"]) - len(prompt))
    assert prompt == llama.encode(fit_prompt(ref, "ba", "label", llama, budget)[0], add_special_tokens=False)


def test_qlora_keeps_gradients_after_an_eval_pass(models):
    """Regression for ../shared/CPU-STACK.md: on AVX512-BF16 CPUs an eval forward used to leave
    every LoRA gradient None afterwards."""
    pytest.importorskip("bitsandbytes")
    c = cfg(models["llama"], head="generative", quantize="nf4")
    tok = load_tokenizer(c)
    model = load_model(c, tok)
    ids = torch.tensor([tok.encode("good helpful correct answer")])
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_" in n]
    assert grads and all(g is not None for g in grads)


def test_config_overrides_and_validation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nmodel: m\nsources: [train-llmeval2]\nlora: {rank: 8}\n")
    c = load_config(path, ["lora.rank=32", "lr=1e-4", "eval_benchmarks=[pandalm]"])
    assert (c.lora.rank, c.lr, c.eval_benchmarks) == (32, 1e-4, ["pandalm"])
    with pytest.raises(ValueError, match="QLoRA: it needs method: lora"):
        load_config(path, ["quantize=nf4", "method=full"])
    with pytest.raises(ValueError, match="extra"):
        load_config(path, ["learning_rate=1"])


@pytest.mark.parametrize("head", ["classifier", "generative"])
def test_prefix_tuning_trains_only_the_prefix(models, head):
    model_dir = models["bert"] if head == "classifier" else models["llama"]
    c = cfg(model_dir, head=head, method="prefix", prefix_tokens=4)
    tok = load_tokenizer(c)
    model = load_model(c, tok)
    before = snapshot(model)
    ids = torch.tensor([tok.encode("good helpful correct answer")] * 2)
    labels = torch.tensor([1, 2]) if head == "classifier" else ids
    one_step(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    moved = changed(before, model)
    assert any("prompt_encoder" in n for n in moved)
    assert all("prompt_encoder" in n or "classifier" in n for n in moved)


@pytest.mark.parametrize("answer_features", [False, True])
def test_pair_head_is_position_free_trains_scorer_and_tie_and_round_trips(models, tmp_path, answer_features):
    from ray_jobs.engines.classifier import ClassifierJudge
    from ray_jobs.engines.encoder import PairJudge, pad
    from ray_jobs.finetune.model import save
    from ray_jobs.finetune.tokenize import feature_stats, micro_batches, pair_row

    c = cfg(
        models["bert"],
        head="pair",
        max_length=48,
        pair_features=answer_features,
        lora={"rank": 4, "alpha": 8, "target_modules": ["query", "value"]},
    )
    tok = load_tokenizer(c)
    ex = PairExample(
        benchmark="b",
        subset="s",
        index=0,
        question="what is two plus two",
        answer1="four, because two and two make four",
        answer2="five",
        label=1,
    )
    rows = [pair_row(ex, o, tok, c.max_length, answer_features) for o in ("ab", "ba")]
    assert rows[0]["input_ids"] == rows[1]["input_ids"][::-1] and [r["labels"] for r in rows] == [1, 2]
    assert all(len(s) <= 48 for r in rows for s in r["input_ids"])
    stats = (
        feature_stats(rows + [pair_row(ex.model_copy(update={"answer2": "4"}), "ab", tok, 48, True)])
        if answer_features
        else None
    )
    model = load_model(c, tok, stats)
    assert isinstance(model, PairJudge)
    batch = micro_batches(rows, 2)[0]  # flattened: first, second, first, second
    assert len(batch["input_ids"]) == 4 and len(batch["labels"]) == 2
    ids, mask = pad(batch["input_ids"], tok.pad_token_id)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if answer_features:  # one vector per window, one tie vector per example
        window = {tuple(ids): f for r in rows for ids, f in zip(r["input_ids"], r["features"])}
        assert batch["features"] == [window[tuple(ids)] for ids in batch["input_ids"]]
        assert rows[0]["features"] == rows[1]["features"][::-1] and rows[0]["tie_features"] == rows[1]["tie_features"]
        inputs |= {"features": torch.tensor(batch["features"]), "tie_features": torch.tensor(batch["tie_features"])}
    model.train()
    before = snapshot(model)
    one_step(model, inputs | {"labels": torch.tensor(batch["labels"])})
    moved = changed(before, model)
    head = {"tie", "w", "v"} if answer_features else {"tie"}
    assert head <= moved and any("lora_" in n for n in moved) and any("classifier" in n for n in moved)
    assert all("lora_" in n or "classifier" in n or n in head for n in moved)
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(**inputs).logits, -1)
    assert p[0].tolist() == pytest.approx(p[1, [0, 2, 1]].tolist(), abs=1e-6)  # swap = p1 <-> p2, nothing else
    save(model, tok, c, tmp_path / "pair")
    judge = ClassifierJudge(tmp_path / "pair")
    (ab,), (ba,) = judge.probs([ex], "ab"), judge.probs([ex], "ba")
    assert ab == pytest.approx(tuple(p[0].tolist()), abs=1e-5)
    assert ba == pytest.approx((ab[0], ab[2], ab[1]), abs=1e-6)  # presented frame: the swapped answers' scores
