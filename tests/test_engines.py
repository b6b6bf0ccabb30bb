"""Engines without Ray: truncation keeps every text visible, label tokens, classifier frame, feature judge."""

import pytest

from judge_core import prompts
from judge_core.data import load
from judge_core.pipeline import expand, to_judgment
from judge_core.schema import PairExample, PointExample, to_original
from ray_jobs.engines.base import build_engine
from ray_jobs.engines.baselines import longer_verdict
from ray_jobs.engines.prompting import ELLIPSIS, fit_prompt, label_ids
from ray_jobs.spec import JudgeSpec


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoTokenizer

    from ray_jobs.tiny_models import tiny_bert, tiny_llama

    root = tmp_path_factory.mktemp("tiny")
    llama = tiny_llama(root / "llama")
    return {"llama": str(llama), "bert": str(tiny_bert(root / "bert")), "tok": AutoTokenizer.from_pretrained(llama)}


LONG = PairExample(
    benchmark="b",
    subset="s",
    index=0,
    question="what is the quick brown fox " * 40,
    answer1="answer one is better " * 200,
    answer2="short answer two",
    label=1,
)


def test_truncation_keeps_question_both_answers_and_instructions(tiny):
    tok = tiny["tok"]
    for order in ("ab", "ba"):
        text, cut = fit_prompt(LONG, order, "label", tok, 700)
        assert cut and len(tok.encode(text, add_special_tokens=False)) <= 700
        first, second = ("answer one", "short answer two") if order == "ab" else ("short answer two", "answer one")
        a1 = text.split("[The Start of Answer 1]")[1].split("[The End of Answer 1]")[0]
        a2 = text.split("[The Start of Answer 2]")[1].split("[The End of Answer 2]")[0]
        assert a1.strip().startswith(first) and a2.strip().startswith(second)
        assert "short answer two" + ELLIPSIS not in text  # the short answer is whole
        assert "what is the quick" in text and text.count(ELLIPSIS) == 2  # question and long answer cut
        assert "Reply with exactly one label" in text
    short = LONG.model_copy(update={"question": "q", "answer1": "a", "answer2": "b"})
    assert fit_prompt(short, "ab", "label", tok, 700)[1] is False
    with pytest.raises(ValueError, match="leaves no room"):
        fit_prompt(LONG, "ab", "label", tok, 380)


def test_label_ids_read_the_first_distinct_token(tiny):
    from judge_core import prompts

    tok = tiny["tok"]
    spec = prompts.get("label").label
    ids, tokens, follow = label_ids("<|assistant|>\n" + spec.prefix, spec, tok)
    assert sorted(tokens) == [0, 1, 2] and len(set(tokens.values())) == 3 and follow == {}
    for v, t in tokens.items():  # prompt + the label's token is exactly the tokenization of the full text
        assert (
            ids + [t]
            == tok.encode("<|assistant|>\n" + spec.prefix + spec.words[v], add_special_tokens=False)[: len(ids) + 1]
        )


def test_hf_label_probabilities_equal_a_plain_forward_pass(tiny):
    import torch
    from transformers import AutoModelForCausalLM

    from judge_core import prompts
    from ray_jobs.engines.prompting import chat_text

    engine = build_engine(JudgeSpec(name="t", engine="hf", model=tiny["llama"], mode="label"))
    short = LONG.model_copy(update={"question": "two plus two", "answer1": "four", "answer2": "five"})
    row = expand([short], ("ba",))[0]
    out = engine.judge([row], "label")[0]
    tok, spec = tiny["tok"], prompts.get("label").label
    ids, tokens, _ = label_ids(chat_text(prompts.get("label").render(short, "ba"), tok) + spec.prefix, spec, tok)
    model = AutoModelForCausalLM.from_pretrained(tiny["llama"]).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1]
    p = torch.softmax(logits[[tokens[0], tokens[1], tokens[2]]], -1).tolist()
    assert out["probs"] == pytest.approx(tuple(p), abs=1e-5) and out["truncated"] is False
    j = to_judgment(row, out, "label", "t")
    assert j.probs == pytest.approx((p[0], p[2], p[1]), abs=1e-5)  # stored in the original frame


def test_micro_batches_keep_rows_and_padded_tokens_under_their_budgets():
    from ray_jobs.engines.hf import micro_batches

    lengths = [100, 200, 300, 400, 900, 1500, 1600]  # ascending, as the engine sorts them
    assert micro_batches(lengths, 8, 1024) == [[0, 1, 2], [3], [4], [5], [6]]  # 3 x 300 <= 1024 < 2 x 400 ...
    assert micro_batches(lengths, 2, None) == [[0, 1], [2, 3], [4, 5], [6]]
    assert micro_batches(lengths, 8, 1600) == [[0, 1, 2, 3], [4], [5], [6]]


def test_hf_label_micro_batches_by_tokens_on_cpu_give_the_same_probabilities(tiny):
    from ray_jobs.engines.hf import micro_batches
    from ray_jobs.engines.prompting import prepare_rows

    rows = expand(
        [
            LONG.model_copy(update={"question": f"question {i} " * (1 + 20 * i), "answer1": "a " * 9 * i})
            for i in range(6)
        ],
        ("ab", "ba"),
    )
    base = JudgeSpec(name="t", engine="hf", model=tiny["llama"], mode="label", options={"max_model_len": 2048})
    assert build_engine(base).micro_tokens == 1024  # label mode on CPU
    assert build_engine(base.model_copy(update={"mode": "generate"})).micro_tokens is None
    packed = build_engine(base.model_copy(update={"options": {"max_model_len": 2048, "micro_tokens": 2048}}))
    lengths = sorted(len(p["ids"]) for p in prepare_rows(rows, "label", "label", packed.tok, 2048, 1)[0].values())
    assert lengths[:4] == [372, 372, 490, 490]  # the first pass pads two rows of 372 tokens to 490
    assert [len(g) for g in micro_batches(lengths, 8, 2048)] == [4, 2, 2, 2, 2]
    one = build_engine(base.model_copy(update={"options": {"max_model_len": 2048, "micro_batch": 1}}))
    for a, b in zip(packed.judge(rows, "label"), one.judge(rows, "label")):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-5) and a["tokens_in"] == b["tokens_in"]
    # Auto-J's labels read further on the batch's KV cache: 8 left-padded rows per pass = 1 per pass
    packed.micro_tokens = 10**6
    for a, b in zip(packed.judge(rows, "autoj"), one.judge(rows, "autoj")):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-5) and a["tokens_in"] == b["tokens_in"]


def test_cpu_threads_reach_openmp_before_torch_loads(tmp_path):
    """Ray starts an actor with OMP_NUM_THREADS=1; threads that OpenMP starts later read that, not
    torch.set_num_threads. The engine's thread count must be in the environment when torch loads,
    which is when build_engine imports the engine's module (hf.py imports torch at its top)."""
    import os
    import subprocess
    import sys

    from ray_jobs.tiny_models import tiny_llama

    model = tiny_llama(tmp_path / "llama")
    code = (
        "import os, sys; from ray_jobs.engines.base import build_engine; from ray_jobs.spec import JudgeSpec; "
        "assert 'torch' not in sys.modules; "
        f"build_engine(JudgeSpec(name='t', engine='hf', model={str(model)!r}, options={{'threads': 2}})); "
        "import torch; print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=os.environ | {"OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["2", "2"]


def test_vllm_on_cpu_gets_small_blocks_and_steps_unless_engine_kwargs_say_otherwise():
    from ray_jobs.engines.vllm_engine import llm_kwargs

    spec = JudgeSpec(name="v", engine="vllm", model="m", mode="label", options={"max_model_len": 2048})
    cpu, gpu = llm_kwargs(spec, on_gpu=False), llm_kwargs(spec, on_gpu=True)
    assert (cpu["block_size"], cpu["max_num_batched_tokens"], cpu["max_model_len"]) == (32, 1024, 2048)
    assert "block_size" not in gpu and "max_num_batched_tokens" not in gpu
    mine = spec.model_copy(update={"options": {"engine_kwargs": {"block_size": 128}}})
    assert llm_kwargs(mine, on_gpu=False)["block_size"] == 128


POINT = PointExample(
    benchmark="b", subset="s", index=0, question="two plus two", answer="four", score=4.0, scale=(1, 5), reference="4"
)


def test_label_ids_read_one_token_further_where_ratings_share_a_first_token(tiny):
    tok, spec = tiny["tok"], prompts.get("mtbench-single").label
    text = "<|assistant|>\n" + spec.prefix
    ids, tokens, follow = label_ids(text, spec, tok)
    assert tokens[1] == tokens[10] and len(set(tokens.values())) == 9  # this tokenizer splits "10"
    assert follow == {10: [tok.encode(text + "10", add_special_tokens=False)[len(ids) + 1]]}
    assert tok.decode([tokens[10]] + follow[10]) == "10"


def test_hf_label_reads_labels_sharing_tokens_to_where_they_part(tiny):
    """Auto-J's "Response 1" / "Response 2" / "Tie": the tiny tokenizer spells words letter by letter,
    so "Response 1" and "Response 2" share nine tokens after the first; each label's probability is
    the product over its tokens up to the one that tells it apart (one full forward pass checks it)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ray_jobs.engines.prompting import chat_text

    short = LONG.model_copy(update={"question": "two plus two", "answer1": "four", "answer2": "five"})
    row = expand([short], ("ab",))[0]
    engine = build_engine(
        JudgeSpec(name="t", engine="hf", model=tiny["llama"], mode="label", options={"max_model_len": 2048})
    )
    out = engine.judge([row], "autoj")[0]
    tok, spec = tiny["tok"], prompts.get("autoj").label
    ids, tokens, follow = label_ids(chat_text(prompts.get("autoj").render(short, "ab"), tok) + spec.prefix, spec, tok)
    assert tokens[1] == tokens[2] != tokens[0] and len(follow[1]) == len(follow[2]) > 2 and 0 not in follow
    model = AutoModelForCausalLM.from_pretrained(tiny["llama"]).eval()

    def logp(seq):  # log p(seq[len(ids):] | ids)
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([seq])).logits[0], -1)
        return sum(float(lp[k - 1, seq[k]]) for k in range(len(ids), len(seq)))

    lps = torch.tensor([logp(ids + [tokens[v]] + follow.get(v, [])) for v in (0, 1, 2)])
    assert out["probs"] == pytest.approx(tuple(torch.softmax(lps, 0).tolist()), abs=1e-5)
    assert to_judgment(row, out, "autoj", "t").verdict == int(torch.argmax(lps))  # verdicts 0, 1, 2 in that order


def test_hf_pointwise_label_score_is_the_expected_rating_of_two_forward_passes(tiny):
    import torch
    from transformers import AutoModelForCausalLM

    from ray_jobs.engines.prompting import chat_text

    engine = build_engine(
        JudgeSpec(name="t", engine="hf", model=tiny["llama"], mode="label", options={"max_model_len": 2048})
    )  # the FastChat prompt alone is ~600 tiny tokens
    rows = expand([POINT], ("ab", "ba"))
    assert [r["order"] for r in rows] == ["ab"]  # one answer, one order
    row = rows[0]
    out = engine.judge([row], "mtbench-single")[0]
    tok, spec = tiny["tok"], prompts.get("mtbench-single").label
    ids, tokens, follow = label_ids(
        chat_text(prompts.get("mtbench-single").render(POINT), tok) + spec.prefix, spec, tok
    )
    model = AutoModelForCausalLM.from_pretrained(tiny["llama"]).eval()
    with torch.no_grad():
        first = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1], -1)
        after_one = torch.log_softmax(model(torch.tensor([ids + [tokens[1]]])).logits[0, -1], -1)
    p = {v: float(first[t].exp()) for v, t in tokens.items()}
    p_zero = float(after_one[follow[10][0]].exp())
    p[10], p[1] = p[1] * p_zero, p[1] * (1 - p_zero)
    want = sum(v * q for v, q in p.items()) / sum(p.values())
    assert out["score"] == pytest.approx(want, abs=1e-4) and "probs" not in out
    j = to_judgment(row, out, "mtbench-single", "t")
    assert j.scores == (pytest.approx(want, abs=1e-4),) and j.verdict is None and j.error is None


def test_pointwise_truncation_keeps_question_answer_and_reference(tiny):
    long = POINT.model_copy(
        update={"question": "what is two plus two " * 40, "answer": "it is four " * 300, "reference": "four"}
    )
    text, cut = fit_prompt(long, "ab", "mtbench-single", tiny["tok"], 1200)
    assert cut and len(tiny["tok"].encode(text, add_special_tokens=False)) <= 1200
    answer = text.split("[The Start of Assistant's Answer]")[1].split("[The End of Assistant's Answer]")[0]
    assert answer.strip().startswith("it is four") and answer.strip().endswith(ELLIPSIS)
    assert "[The Start of Reference Answer]\nfour\n" in text and "rate the response on a scale of 1 to 10" in text


def test_openai_label_tokens_belong_to_the_label_they_spell():
    from ray_jobs.engines.openai_engine import _label_from_top

    def resp(tokens):
        return {
            "choices": [
                {"logprobs": {"content": [{"top_logprobs": [{"token": t, "logprob": lp} for t, lp in tokens]}]}}
            ]
        }

    spec = prompts.get("mtbench-single").label
    assert _label_from_top(resp([("10", -0.1), ("1", -2.0), ("9", -3.0), ("x", -0.5)]), spec) == {
        10: -0.1,
        1: -2.0,
        9: -3.0,
    }
    tie = prompts.get("label").label
    assert _label_from_top(resp([("T", -1.0), (" 1", -0.2), ("2", -0.9)]), tie) == {1: -0.2, 2: -0.9}
    with pytest.raises(ValueError, match="no label token"):
        _label_from_top(resp([("x", -0.1)]), spec)


@pytest.mark.parametrize("head", [{"head": "classifier"}, {"head": "pair", "pair_features": True}])
def test_classifier_engine_answers_in_the_presented_frame(tiny, tmp_path, head):
    """The engine's probabilities = the judge's own, per order (the pair head scores an example once
    and swaps p1/p2 for the other order: the same as scoring the swapped windows)."""
    import torch

    from ray_jobs.engines.classifier import ClassifierJudge
    from ray_jobs.finetune.config import FinetuneConfig
    from ray_jobs.finetune.model import load_model, load_tokenizer, save

    cfg = FinetuneConfig(name="c", model=tiny["bert"], sources=["train-ultrafeedback/train"], max_length=64, **head)
    tok = load_tokenizer(cfg)
    model = load_model(cfg, tok)
    if cfg.pair_features:  # weights that make the features matter (they start at zero)
        torch.manual_seed(0)
        model.w.data, model.v.data = torch.randn_like(model.w), torch.randn_like(model.v)
    save(model, tok, cfg, tmp_path / "adapter")
    engine = build_engine(JudgeSpec(name="c", engine="classifier", model=str(tmp_path / "adapter")))
    examples = [LONG, LONG.model_copy(update={"index": 1, "answer2": "another answer"})]
    rows = expand(examples, ("ab", "ba"))
    judgments = [to_judgment(r, o, None, "c") for r, o in zip(rows, engine.judge(rows, None))]
    direct = ClassifierJudge(tmp_path / "adapter")  # presented frame: "ba" comes back with p1, p2 swapped
    want = [p for ex in examples for p in (direct.probs([ex], "ab")[0], to_original(direct.probs([ex], "ba")[0], "ba"))]
    for j, p in zip(judgments, want):
        assert j.probs == pytest.approx(p, abs=1e-5)


def test_feature_judge_is_position_free_and_beats_chance(tmp_path, shared_root):
    path = tmp_path / "features.joblib"
    engine = build_engine(
        JudgeSpec(name="f", engine="baseline", model="features", options={"path": str(path), "root": str(shared_root)})
    )
    info = (tmp_path / "features.json").read_text()
    assert '"val_accuracy"' in info
    examples, _ = load("pandalm", "test", root=shared_root)
    rows = expand(examples, ("ab", "ba"))
    js = [to_judgment(r, o, None, "f") for r, o in zip(rows, engine.judge(rows, None))]
    gap = max(abs(a - b) for ja, jb in zip(js[::2], js[1::2]) for a, b in zip(ja.probs, jb.probs))
    assert gap < 0.05  # antisymmetric features + both orders in training: position hardly matters
    accuracy = sum(j.verdict == ex.label for j, ex in zip(js[::2], examples)) / len(examples)
    assert accuracy > 0.55  # 3-way; the majority class is 47%
    longer = build_engine(JudgeSpec(name="l", engine="baseline", model="longer"))
    out = longer.judge(expand([LONG], ("ab", "ba")), None)
    assert [o["verdict"] for o in out] == [1, 2]  # presented frame: the long answer is shown second in "ba"


@pytest.mark.slow  # ~15 s: embeds 92 LLMBar pairs
def test_relevance_judge_prefers_the_answer_about_the_question(shared_root):
    """Zero-shot MiniLM relevance: the on-topic answer wins in both orders though it is shorter; on
    LLMBar GPTInst (off-instruction answers written to look good) it beats a coin where length fails."""
    engine = build_engine(JudgeSpec(name="r", engine="baseline", model="relevance"))
    ex = PairExample(
        benchmark="b",
        subset="s",
        index=0,
        question="How do I cook dry spaghetti?",
        label=1,
        answer1="Boil salted water, add the spaghetti and cook it for about nine minutes.",
        answer2="Stock markets rose today as investors weighed interest rates, earnings "
        "reports and the outlook for inflation over the coming quarter.",
    )
    rows = expand([ex], ("ab", "ba"))
    assert [to_judgment(r, o, None, "r").verdict for r, o in zip(rows, engine.judge(rows, None))] == [1, 1]
    examples, _ = load("llmbar", "gptinst", root=shared_root)
    rows = expand(examples, ("ab",))
    verdicts = [to_judgment(r, o, None, "r").verdict for r, o in zip(rows, engine.judge(rows, None))]
    accuracy = sum(v == e.label for v, e in zip(verdicts, examples)) / len(examples)
    longer = sum(longer_verdict(e) == e.label for e in examples) / len(examples)
    assert accuracy > 0.7 and longer < 0.2  # measured: 80.43 vs 13.04
