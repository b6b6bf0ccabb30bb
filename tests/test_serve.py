"""The serving app over real HTTP on a local Ray Serve: auth, malformed and oversized bodies, health,
batching across concurrent requests, pointwise scores, and verdicts identical to batch judging."""

import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from judge_core.data import load
from ray_jobs.batch import run_cell
from ray_jobs.serve import ServeConfig, build_app, deployment_options
from ray_jobs.spec import JudgeSpec
from ray_jobs.store import Cell, read_parts

pytestmark = pytest.mark.slow
KEY = "sk-serve-test"
os.environ["JUDGE_SERVE_TEST_KEY"] = KEY  # before Ray starts: the replicas inherit it, as on a node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    from ray_jobs.tiny_models import tiny_llama

    return str(tiny_llama(tmp_path_factory.mktemp("tiny") / "llama"))


@pytest.fixture(scope="module")
def url(ray_local):
    from ray import serve

    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    cfg = {
        "judge": {"name": "fake", "engine": "fake", "mode": "label"},
        "api_key_env": "JUDGE_SERVE_TEST_KEY",
        "max_body_bytes": 20_000,
        "max_items": 8,
        "max_input_tokens": 300,
        "max_batch_size": 8,
        "batch_wait_timeout_s": 0.2,
    }
    serve.run(build_app(cfg), name="fake", route_prefix="/")
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


@pytest.fixture(scope="module")
def gen(url):
    """A second app beside the first: a generate-mode fake judge that answers chat completions."""
    from ray import serve

    # num_cpus 0: the module's Ray has 4 CPUs, and the other apps' replicas take one each
    cfg = {
        "judge": {"name": "gen", "engine": "fake", "mode": "generate", "num_cpus": 0},
        "api_key_env": "JUDGE_SERVE_TEST_KEY",
        "max_body_bytes": 20_000,
        "max_input_tokens": 300,
    }
    serve.run(build_app(cfg), name="gen", route_prefix="/gen")
    return f"{url}/gen"


AUTH = {"Authorization": f"Bearer {KEY}"}
PAIR = {"question": "2+2?", "answer1": "four, since two and two make four", "answer2": "5"}


def test_health_needs_no_key_and_everything_else_does(url):
    assert requests.get(f"{url}/healthz").json() == {"status": "ok", "judge": "fake"}
    r = requests.post(f"{url}/v1/judge", json=PAIR)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert requests.post(f"{url}/v1/judge", json=PAIR, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert requests.post(f"{url}/v1/judge", json=PAIR, headers={"Authorization": KEY}).status_code == 403  # no scheme
    assert requests.get(f"{url}/v1/models").status_code == 401
    models = requests.get(f"{url}/v1/models", headers=AUTH).json()
    assert models["data"][0]["id"] == "fake" and models["data"][0]["templates"] == ["label", "mtbench-single"]


def test_malformed_bodies_get_422_with_the_reason(url):
    def post(body, **kw):
        return requests.post(
            f"{url}/v1/judge", headers=AUTH, **({"data": body} if isinstance(body, str) else {"json": body}), **kw
        )

    assert post("{not json").status_code == 422
    r = post({"question": "q", "answer1": "a"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["answer2"]
    assert post(PAIR | {"colour": "red"}).status_code == 422
    assert post({"items": []}).status_code == 422
    r = post({"question": ["t1", "t2"], "answer1": ["a"], "answer2": ["b", "c"]})
    assert r.status_code == 422 and "turns" in json.dumps(r.json())
    r = post(PAIR | {"template": "nope"})
    assert r.status_code == 422 and "not served" in r.json()["detail"]


HOSTILE = {  # what a hostile client sends; each once answered 500
    "nested 9,000 deep": b'{"question": ' + b"[" * 9000 + b"]" * 9000 + b', "answer1": "a", "answer2": "b"}',
    "NaN": b'{"question": "q", "answer1": NaN, "answer2": "b"}',
    "Infinity": b'{"question": "q", "answer1": "a", "answer2": "b", "both_orders": Infinity}',
    "lone surrogate": b'{"question": "\\ud800", "answer1": "a", "answer2": "b"}',
    "5,001-digit integer": b'{"question": "q", "answer1": "a", "answer2": ' + b"7" * 5001 + b"}",
    "a string for a boolean": b'{"question": "q", "answer1": "a", "answer2": "b", "both_orders": "yes"}',
    "1 for a boolean": b'{"question": "q", "answer1": "a", "answer2": "b", "both_orders": 1}',
}


def test_hostile_bodies_get_422_with_a_reason(url, gen):
    headers = AUTH | {"Content-Type": "application/json"}
    for name, raw in HOSTILE.items():
        r = requests.post(f"{url}/v1/judge", headers=headers, data=raw, timeout=60)
        assert r.status_code == 422 and r.json()["detail"], (name, r.status_code, r.text[:200])
    chat = {
        "NaN temperature": b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        "lone surrogate": b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        "string stream": b'{"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
        "nested 9,000 deep": b'{"messages": ' + b"[" * 9000 + b"]" * 9000 + b"}",
    }
    for name, raw in chat.items():
        r = requests.post(f"{gen}/v1/chat/completions", headers=headers, data=raw, timeout=60)
        assert r.status_code == 422 and r.json()["error"]["message"], (name, r.status_code, r.text[:200])


def test_docs_and_schema_are_not_served(url):
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert requests.get(f"{url}{path}").status_code == 404, path
        assert requests.get(f"{url}{path}", headers=AUTH).status_code == 404, path


def test_oversized_input_gets_413(url):
    assert requests.post(f"{url}/v1/judge", headers=AUTH, json=PAIR | {"answer2": "x" * 30_000}).status_code == 413
    r = requests.post(f"{url}/v1/judge", headers=AUTH, json={"items": [PAIR] * 9})
    assert r.status_code == 413 and "at most 8" in r.json()["detail"]
    r = requests.post(f"{url}/v1/judge", headers=AUTH, json=PAIR | {"answer2": "word " * 400})
    assert r.status_code == 413 and "tokens" in r.json()["detail"]


def test_concurrent_requests_are_batched_and_each_gets_its_own_verdict(url):
    pairs = [{"question": f"q{i}", "answer1": "a " * (i % 5), "answer2": "b " * (i % 3)} for i in range(40)]

    def call(p):
        return requests.post(f"{url}/v1/judge", headers=AUTH, json=p, timeout=60).json()

    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(call, pairs))
    for p, g in zip(pairs, got):  # the fake judge: the longer answer wins, equal is a tie
        n1, n2 = len(p["answer1"]), len(p["answer2"])
        assert g["verdict"] == (1 if n1 > n2 else 2 if n2 > n1 else 0) and g["error"] is None
        assert max(g["probs"].values()) == pytest.approx(0.8 / 1.0)
    sizes = requests.get(f"{url}/v1/models", headers=AUTH).json()["batch_sizes"]
    assert max(sizes) > 1 and max(sizes) <= 8  # several requests per engine call, never over max_batch_size


def test_both_orders_lists_and_scores(url):
    r = requests.post(f"{url}/v1/judge", headers=AUTH, json={"items": [PAIR | {"both_orders": True}, PAIR]}).json()
    both, single = r["results"]
    assert both["verdict"] == 1 and both["swap_consistent"] is True and set(both["orders"]) == {"ab", "ba"}
    assert both["orders"]["ba"]["verdict"] == 1  # stored in the original answer order
    assert single["verdict"] == 1 and "swap_consistent" not in single
    s = requests.post(f"{url}/v1/score", headers=AUTH, json={"question": "q", "answer": "w " * 35}).json()
    assert s == {"score": 4.0, "raw": None, "error": None}  # the fake rule: 1 + words // 10


def test_served_verdicts_equal_batch_judging(url, tmp_path, shared_root, tiny_llama_dir):
    from ray import serve

    spec = {
        "name": "tiny",
        "engine": "hf",
        "model": tiny_llama_dir,
        "mode": "label",
        "options": {"max_model_len": 512, "max_new_tokens": 8},
    }
    serve.run(
        build_app({"judge": spec, "api_key_env": "JUDGE_SERVE_TEST_KEY", "max_input_tokens": 100_000}),
        name="tiny",
        route_prefix="/tiny",
    )
    run_cell(Cell(JudgeSpec(**spec), "label", "pandalm", "test", limit=4, root=str(shared_root)), tmp_path, bootstrap=0)
    stored = {(r["uid"], r["order"]): r for r in read_parts(tmp_path / "tiny" / "label" / "pandalm-test").to_pylist()}
    examples, _ = load("pandalm", "test", root=shared_root)
    for ex in examples[:4]:
        body = {"question": ex.question, "answer1": ex.answer1, "answer2": ex.answer2, "both_orders": True}
        got = requests.post(f"{url}/tiny/v1/judge", headers=AUTH, json=body, timeout=60).json()
        for order in ("ab", "ba"):
            s, g = stored[(ex.uid, order)], got["orders"][order]
            assert g["verdict"] == s["verdict"]
            assert [g["probs"]["tie"], g["probs"]["answer1"], g["probs"]["answer2"]] == pytest.approx(
                [s["p_tie"], s["p1"], s["p2"]], abs=1e-5
            )
    assert ServeConfig(judge=spec).allowed() == ["label", "mtbench-single"]

    # the sweep's openai engine pointed at this app (generate mode) writes what the hf engine writes
    from judge_core.pipeline import expand
    from judge_core.schema import PairExample
    from ray_jobs.engines.base import build_engine

    short = [
        PairExample(
            benchmark="b", subset="s", index=i, question=f"what is {i} plus {i}?", answer1=str(2 * i), answer2="no idea"
        )
        for i in range(3)
    ]
    rows = expand(short, ("ab", "ba"))
    via_http = build_engine(
        {
            "name": "o",
            "engine": "openai",
            "model": "tiny",
            "options": {"base_url": f"{url}/tiny/v1", "api_key_env": "JUDGE_SERVE_TEST_KEY", "max_tokens": 8},
        }
    ).judge(rows, "label")
    direct = build_engine(spec | {"mode": "generate"}).judge(rows, "label")
    assert [o["raw"] for o in via_http] == [o["raw"] for o in direct] and all(o.get("error") is None for o in via_http)
    r = requests.post(
        f"{url}/tiny/v1/chat/completions", headers=AUTH, json={"messages": [{"role": "user", "content": "x " * 600}]}
    )
    assert r.status_code == 400 and "leaves no room" in r.json()["detail"]
    assert (
        requests.post(
            f"{url}/v1/chat/completions", headers=AUTH, json={"messages": [{"role": "user", "content": "hi"}]}
        ).status_code
        == 404
    )


def test_classifier_pair_judge_served(url, tmp_path):
    from ray import serve

    from judge_core.schema import PairExample
    from ray_jobs.engines.classifier import ClassifierJudge
    from ray_jobs.finetune.config import FinetuneConfig
    from ray_jobs.finetune.model import load_model, load_tokenizer, save
    from ray_jobs.tiny_models import tiny_bert

    c = FinetuneConfig(
        name="t",
        model=str(tiny_bert(tmp_path / "bert")),
        sources=["train-ultrafeedback"],
        head="pair",
        max_length=48,
        lora={"rank": 4, "alpha": 8, "target_modules": ["query", "value"]},
    )
    tok = load_tokenizer(c)
    save(load_model(c, tok), tok, c, tmp_path / "pair")  # what `judge finetune` writes
    serve.run(
        build_app(
            {
                "judge": {"name": "cls", "engine": "classifier", "model": str(tmp_path / "pair")},
                "api_key_env": "JUDGE_SERVE_TEST_KEY",
            }
        ),
        name="cls",
        route_prefix="/cls",
    )
    ex = PairExample(
        benchmark="b",
        subset="s",
        index=0,
        question="what is two plus two",
        answer1="four, because two and two make four",
        answer2="five",
    )
    got = requests.post(
        f"{url}/cls/v1/judge",
        headers=AUTH,
        timeout=60,
        json={"question": ex.question, "answer1": ex.answer1, "answer2": ex.answer2, "both_orders": True},
    ).json()
    want = ClassifierJudge(tmp_path / "pair").probs([ex], "ab")[0]
    assert [got["probs"][k] for k in ("tie", "answer1", "answer2")] == pytest.approx(want, abs=1e-5)
    assert got["swap_consistent"] is True  # the pair head has no position to prefer
    assert requests.post(f"{url}/cls/v1/score", headers=AUTH, json={"question": "q", "answer": "a"}).status_code == 404


def test_slow_engine_gets_504_and_replica_options_come_from_the_config(url):
    from ray import serve

    slow = {
        "judge": {"name": "slow", "engine": "fake", "mode": "label", "options": {"delay": 2.0}},
        "api_key_env": "JUDGE_SERVE_TEST_KEY",
        "timeout_s": 0.5,
    }
    serve.run(build_app(slow), name="slow", route_prefix="/slow")
    r = requests.post(f"{url}/slow/v1/judge", headers=AUTH, json=PAIR, timeout=30)
    assert r.status_code == 504 and "0.5 s" in r.json()["detail"]
    gpu = ServeConfig(
        judge={"name": "g", "engine": "hf", "model": "m", "num_gpus": 1},
        autoscaling_config={"min_replicas": 1, "max_replicas": 4},
        max_ongoing_requests=32,
    )
    assert deployment_options(gpu) == {
        "autoscaling_config": {"min_replicas": 1, "max_replicas": 4},
        "max_ongoing_requests": 32,
        "ray_actor_options": {"num_cpus": 1, "num_gpus": 1},
    }
    assert deployment_options(ServeConfig(judge=slow["judge"], num_replicas=3))["num_replicas"] == 3


# ---- /v1/chat/completions with the official openai client ---------------------------------------------
CHAT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what is two plus two?"}]
SAID = "You said: what is two plus two?"  # the fake judge's answer; 7 words in, 7 words out


def _client(gen):
    import openai

    return openai.OpenAI(base_url=f"{gen}/v1", api_key=KEY, max_retries=0, timeout=60)


def test_openai_client_reads_a_complete_chat_completion(gen):
    from openai.types.chat import ChatCompletion

    r = _client(gen).chat.completions.create(model="gen", messages=CHAT, temperature=0.7, max_tokens=16, seed=1)
    assert isinstance(r, ChatCompletion) and ChatCompletion.model_validate(r.model_dump()) == r
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.model == "gen" and r.created > 1.7e9
    assert r.choices[0].message.content == SAID and r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason == "stop" and len(r.choices) == 1
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (7, 7, 14)
    parts = [{"type": "text", "text": "what is two"}, {"type": "text", "text": "plus two?"}]
    r = _client(gen).chat.completions.create(model="gen", messages=[{"role": "user", "content": parts}])
    assert r.choices[0].message.content == "You said: what is two\nplus two?"


def test_openai_client_streams_the_same_answer(gen):
    chunks = list(_client(gen).chat.completions.create(model="gen", messages=CHAT, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == SAID
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == "stop"
    assert len({c.id for c in chunks}) == 1 and all(c.usage is None for c in chunks)
    with_usage = list(
        _client(gen).chat.completions.create(
            model="gen", messages=CHAT, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in with_usage if c.choices) == SAID
    assert with_usage[-1].choices == [] and with_usage[-1].usage.total_tokens == 14
    r = requests.post(f"{gen}/v1/chat/completions", headers=AUTH, json={"messages": CHAT, "stream": True}, timeout=60)
    assert r.headers["content-type"].startswith("text/event-stream") and r.text.endswith("data: [DONE]\n\n")


def test_openai_client_gets_refusals_naming_the_field(gen):
    import openai

    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    image = {"type": "image_url", "image_url": {"url": "http://example.com/x.png"}}
    cases = [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"tools": [tool]}, "tools"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"extra_body": {"colour": "red"}}, "colour"),
        ({"messages": [{"role": "user", "content": [image]}]}, "messages.0.content"),
    ]
    for kwargs, field in cases:
        with pytest.raises((openai.UnprocessableEntityError, openai.BadRequestError)) as e:
            _client(gen).chat.completions.create(**{"model": "gen", "messages": CHAT} | kwargs)
        assert e.value.param == field and field.split(".")[0] in e.value.message, (field, e.value.message)
    assert "'image_url'" in e.value.message  # the last case: the part type is named
    with pytest.raises(openai.PermissionDeniedError):  # a wrong key: 403, as on every route
        openai.OpenAI(base_url=f"{gen}/v1", api_key="nope-" + KEY, max_retries=0).chat.completions.create(
            model="gen", messages=CHAT
        )
