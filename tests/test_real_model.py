"""SmolLM2-135M-Instruct, a real pretrained judge from PyPI, through the suite's LLM paths: its label
tokens for every template, its chat template, truncation at its real context length, real critiques
in Auto-J's format, and the serving app."""

import pytest

from judge_core import prompts
from judge_core.data import load
from judge_core.pipeline import expand, to_judgment
from judge_core.schema import PairExample
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import JudgeSpec

pytestmark = pytest.mark.slow

# The token each label is read at, written out by hand from SmolLM2's vocabulary (GPT-2 style BPE:
# "Ġ" is a leading space). "Tie" splits into "T" + "ie"; ratings 1-10 share "1", and "10" is read
# one token further, at "0"; Auto-J's "Response 1" and "Response 2" share "ĠResponse" and are read two
# tokens further, at "Ġ" + "1" or "2".
GOLDEN = {
    "label": {1: "1", 2: "2", 0: "0"},
    "pandalm": {1: "1", 2: "2", 0: "T"},
    "mtbench-pair": {1: "A", 2: "B", 0: "C"},
    "llmbar": {1: "a", 2: "b"},
    "mtbench-single": {**{k: str(k) for k in range(1, 10)}, 10: "1"},
    "autoj": {1: "ĠResponse", 2: "ĠResponse", 0: "ĠTie"},
}
FOLLOW = {"mtbench-single": {10: ["0"]}, "autoj": {1: ["Ġ", "1"], 2: ["Ġ", "2"]}}


@pytest.fixture(scope="module")
def tok(smollm2):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2)


def test_label_tokens_of_every_label_template(tok, shared_root):
    from ray_jobs.engines.prompting import prepare

    pair, _ = load("llmbar", "natural", root=shared_root)
    point, _ = load("critiquellm-pointwise", "reference-free", root=shared_root)
    assert {n for n, t in prompts.TEMPLATES.items() if t.label} == set(GOLDEN)
    for name, want in GOLDEN.items():
        tpl = prompts.get(name)
        row = expand([point[0]] if tpl.pointwise else [pair[0]], ("ab",))[0]
        prep = prepare(row, name, "label", tok, 8192, 512)
        assert {v: tok.convert_ids_to_tokens(i) for v, i in prep["labels"].items()} == want, name
        assert {v: tok.convert_ids_to_tokens(p) for v, p in prep["follow"].items()} == FOLLOW.get(name, {}), name
        if tpl.label.prefix:  # the prompt ends with the pre-fill (its last space goes with the label word)
            assert tok.decode(prep["ids"]).endswith("<|im_start|>assistant\n" + tpl.label.prefix.rstrip()), name


def test_the_chat_template_and_its_system_prompt_reach_the_model(tok, shared_root):
    from ray_jobs.engines.prompting import chat_text

    pair, _ = load("llmbar", "natural", root=shared_root)
    own = chat_text(prompts.get("autoj").render(pair[0]), tok)  # Auto-J's prompt has no system turn
    assert own.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    label = chat_text(prompts.get("label").render(pair[0]), tok)  # ours replaces it
    assert label.startswith("<|im_start|>system\nYou are a fair judge") and "SmolLM" not in label
    assert label.endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_truncation_at_the_real_context_length(tok):
    from ray_jobs.engines.prompting import ELLIPSIS, fit_prompt

    long = PairExample(
        benchmark="b",
        subset="s",
        index=0,
        question="Summarise: " + "word " * 6000,
        answer1="short answer",
        answer2="essay " * 20000,
        label=1,
    )
    text, cut = fit_prompt(long, "ba", "label", tok, 8192 - 2, "[")
    n = len(tok.encode(text, add_special_tokens=False))
    assert cut and 8000 < n <= 8190 and text.count(ELLIPSIS) == 2 and "short answer" in text
    assert text.endswith(prompts.get("label").label.prefix) and "Reply with exactly one label" in text


def test_real_critiques_in_autoj_format_are_parsed_or_fail_with_a_reason(smollm2, shared_root):
    """Generate mode with Auto-J's prompt: each critique either ends in a decision the parser reads or
    is a parse failure with its reason, never a silent tie; decoding stops at <|im_end|>."""
    examples, _ = load("pandalm", root=shared_root)
    rows = expand(examples[:3], ("ab", "ba"))
    engine = build_engine(JudgeSpec(name="s", engine="hf", model=smollm2, options={"max_new_tokens": 96}))
    outs = engine.judge(rows, "autoj")
    judgments = [to_judgment(r, o, "autoj", "s") for r, o in zip(rows, outs)]
    assert all(o.get("error") is None and 0 < o["tokens_out"] <= 96 and "<|im_end|>" not in o["raw"] for o in outs)
    for j in judgments:
        assert (j.verdict is not None) != (j.error is not None)
        assert j.error in (None, "no 'final decision is' statement") or j.error.startswith("final decision is neither")


def test_serve_answers_with_the_real_model(smollm2, shared_root, tmp_path):
    """The served judge gives the verdicts and probabilities of the same engine called directly."""
    import os
    import socket
    import tempfile

    import ray
    import requests
    from ray import serve

    from ray_jobs.serve import build_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["JUDGE_REAL_KEY"] = "k"
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=tempfile.mkdtemp(prefix="ray"),
    )  # short: a socket path
    spec = {"name": "smollm2", "engine": "hf", "model": smollm2, "mode": "label", "options": {"max_model_len": 2048}}
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app({"judge": spec, "api_key_env": "JUDGE_REAL_KEY"}), name="real", route_prefix="/")
        ex = load("llmbar", "natural", root=shared_root)[0][1]
        got = requests.post(
            f"http://127.0.0.1:{port}/v1/judge",
            headers={"Authorization": "Bearer k"},
            timeout=120,
            json={"question": ex.question, "answer1": ex.answer1, "answer2": ex.answer2, "both_orders": True},
        ).json()
    finally:
        serve.shutdown()
        ray.shutdown()
    rows = [
        r | {"template": "label"}
        for r in expand([ex.model_copy(update={"benchmark": "serve", "subset": "request", "index": 0})], ("ab", "ba"))
    ]
    direct = [to_judgment(r, o, "label", "smollm2") for r, o in zip(rows, build_engine(spec).judge(rows, "label"))]
    for order, j in zip(("ab", "ba"), direct):
        served = got["orders"][order]
        assert served["verdict"] == j.verdict and served["error"] is None
        assert [served["probs"][k] for k in ("tie", "answer1", "answer2")] == pytest.approx(j.probs, abs=1e-5)
