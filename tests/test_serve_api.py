"""The serving app's bodies and answers without HTTP: parsing reasons (hostile bodies included), the
combined verdict of two orders, the OpenAI chat body and answers, the fake engine's chat answers."""

import json
import time

import pytest

from judge_core.schema import Judgment
from ray_jobs.serve.api import (
    HTTPError,
    PairIn,
    PointIn,
    chat_completion,
    chat_stream,
    openai_error,
    pair_result,
    parse_body,
    parse_chat,
    to_examples,
)


def test_one_item_or_a_list_and_the_reasons_for_refusing():
    items, single = parse_body(b'{"question": "q", "answer1": "a", "answer2": "b"}', PairIn, 4)
    assert single and items[0].answer2 == "b"
    items, single = parse_body(
        b'{"items": [{"question": "q", "answer": "a"}, {"question": "r", "answer": "b"}]}', PointIn, 4
    )
    assert not single and [i.question for i in items] == ["q", "r"]
    with pytest.raises(HTTPError) as e:
        parse_body(b'{"items": [' + b",".join([b'{"question": "q", "answer": "a"}'] * 5) + b"]}", PointIn, 4)
    assert e.value.status == 413
    with pytest.raises(HTTPError) as e:
        parse_body(b'{"question": "q", "answer1": "a"}', PairIn, 4)
    assert e.value.status == 422 and e.value.detail[0]["loc"] == ["answer2"]
    with pytest.raises(HTTPError) as e:
        to_examples([PairIn(question=["a", "b"], answer1=["x"], answer2=["y", "z"])])
    assert e.value.status == 422 and e.value.detail[0]["item"] == 0


@pytest.mark.parametrize(
    "ab, ba, verdict, consistent",
    [
        (1, 1, 1, True),
        (2, 2, 2, True),
        (0, 0, 0, True),
        (1, 2, 0, False),  # the orders disagree: a tie (FastChat's rule)
        (1, None, None, False),  # one order failed: no combined verdict
    ],
)
def test_combined_verdict_of_text_judgments(ab, ba, verdict, consistent):
    js = [
        Judgment(uid="u", order="ab", verdict=ab, raw="r"),
        Judgment(uid="u", order="ba", verdict=ba, raw="r", error=None if ba is not None else "no verdict"),
    ]
    r = pair_result(js)
    assert (r["verdict"], r["swap_consistent"], r["probs"]) == (verdict, consistent, None)
    assert r["error"] == (None if ba is not None else "no verdict")


def test_combined_verdict_of_probabilities_averages_the_orders():
    js = [
        Judgment(uid="u", order="ab", verdict=1, probs=(0.1, 0.6, 0.3)),
        Judgment(uid="u", order="ba", verdict=2, probs=(0.1, 0.2, 0.7)),
    ]
    r = pair_result(js)
    assert r["verdict"] == 2 and r["probs"] == pytest.approx({"tie": 0.1, "answer1": 0.4, "answer2": 0.5})
    assert r["swap_consistent"] is False and r["orders"]["ab"]["verdict"] == 1
    assert pair_result(js[:1]) == {
        "verdict": 1,
        "probs": {"tie": 0.1, "answer1": 0.6, "answer2": 0.3},
        "raw": None,
        "error": None,
    }


# ---- hostile bodies: each is a 422 whose reason is itself valid JSON (the answer must not fail) -------
HOSTILE = {
    "nested 50,000 deep": b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "NaN": b'{"question": NaN, "answer1": "a", "answer2": "b"}',
    "Infinity": b'{"question": "q", "answer1": Infinity, "answer2": "b"}',
    "-Infinity": b'{"question": "q", "answer1": "a", "answer2": -Infinity}',
    "overflowing float": b'{"question": "q", "answer1": "a", "answer2": 1e5000}',
    "lone surrogate": b'{"question": "\\ud800", "answer1": "a", "answer2": "b"}',
    "lone low surrogate": b'{"question": "q", "answer1": "x\\udc00", "answer2": "b"}',
    "5,001-digit integer": b'{"question": "q", "answer1": "a", "answer2": ' + b"9" * 5001 + b"}",
    "invalid UTF-8": b'{"question": "\xff", "answer1": "a", "answer2": "b"}',
    "not an object": b"[1, 2]",
    "empty": b"",
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bodies_get_422_with_a_reason_that_serialises(raw):
    with pytest.raises(HTTPError) as e:
        parse_body(raw, PairIn, 4)
    assert e.value.status == 422 and e.value.detail
    json.dumps({"detail": e.value.detail}, allow_nan=False)  # what the error handler sends: must not raise


def test_validation_errors_do_not_echo_the_input():
    with pytest.raises(HTTPError) as e:
        parse_body(b'{"question": "q", "answer1": "a", "answer2": ' + b"9" * 4000 + b"}", PairIn, 4)
    assert e.value.detail[0]["loc"] == ["answer2", "str"] and "input" not in e.value.detail[0]


@pytest.mark.parametrize("value", ['"yes"', "1", '"true"', "0", "null"])
def test_booleans_must_be_booleans(value):
    with pytest.raises(HTTPError) as e:
        parse_body(b'{"question": "q", "answer1": "a", "answer2": "b", "both_orders": %s}' % value.encode(), PairIn, 4)
    assert e.value.status == 422 and e.value.detail[0]["loc"] == ["both_orders"]
    (item,), _ = parse_body(b'{"question": "q", "answer1": "a", "answer2": "b", "both_orders": true}', PairIn, 4)
    assert item.both_orders is True


def test_strict_types_everywhere_in_a_request():
    for body in (
        b'{"question": 5, "answer": "a"}',
        b'{"question": "q", "answer": ["a", 1]}',
        b'{"items": {"question": "q", "answer": "a"}}',
        b'{"items": ["q"]}',
    ):
        with pytest.raises(HTTPError) as e:
            parse_body(body, PointIn, 4)
        assert e.value.status == 422, body


# ---- the chat body ----------------------------------------------------------------------------------
def chat(**fields) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]} | fields).encode()


def refusal(raw: bytes) -> dict:
    with pytest.raises(HTTPError) as e:
        parse_chat(raw)
    assert e.value.status == 422
    return e.value.detail[0]


def test_chat_body_accepts_the_sampling_fields_the_judge_overrides():
    body = parse_chat(
        chat(
            temperature=0.7,
            top_p=0.9,
            seed=3,
            user="u",
            presence_penalty=0.1,
            frequency_penalty=0,
            max_tokens=8,
            max_completion_tokens=8,
            stop=["\n"],
            stream=True,
            stream_options={"include_usage": True},
            metadata={"k": "v"},
            store=False,
            n=1,
            logprobs=False,
            response_format={"type": "text"},
            modalities=["text"],
        )
    )
    assert body.stream is True and body.stream_options.include_usage is True
    assert body.conversation() == [{"role": "user", "content": "hi"}]
    assert parse_chat(chat()).stream is False


@pytest.mark.parametrize(
    "field, value",
    [
        ("n", 2),
        ("logprobs", True),
        ("top_logprobs", 5),
        ("tools", [{"type": "function", "function": {"name": "f"}}]),
        ("tool_choice", "auto"),
        ("functions", [{"name": "f"}]),
        ("function_call", "auto"),
        ("parallel_tool_calls", False),
        ("response_format", {"type": "json_object"}),
        ("logit_bias", {"50256": -100}),
        ("audio", {"voice": "alloy"}),
        ("modalities", ["text", "audio"]),
        ("prediction", {"type": "content", "content": "x"}),
        ("continue_final_message", True),
        ("colour", "red"),  # unknown fields too, never dropped silently
    ],
)
def test_chat_body_refuses_what_it_would_ignore_naming_the_field(field, value):
    err = refusal(chat(**{field: value}))
    assert err["loc"] == [field]
    assert field in err["msg"] or err["type"] == "extra_forbidden"


def test_chat_content_parts_are_joined_and_non_text_parts_refused_by_type():
    body = parse_chat(
        chat(
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            ]
        )
    )
    assert body.conversation() == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one\ntwo"}]
    for part in (
        {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
        {"type": "input_audio", "input_audio": {}},
    ):
        err = refusal(chat(messages=[{"role": "user", "content": [{"type": "text", "text": "see"}, part]}]))
        assert err["loc"][:2] == ["messages", 0] and repr(part["type"]) in err["msg"]
    assert refusal(chat(messages=[{"role": "tool", "content": "x"}]))["loc"] == ["messages", 0, "role"]
    assert refusal(chat(messages=[]))["loc"] == ["messages"]
    assert refusal(chat(stream="yes"))["loc"] == ["stream"]
    assert refusal(chat(temperature=float("inf")).replace(b"Infinity", b"1e999"))["loc"] == ["temperature"]


# ---- the chat answer --------------------------------------------------------------------------------
OUT = {"raw": "You said: hi", "tokens_in": 5, "tokens_out": 3}


def test_chat_completion_is_what_the_openai_client_reads():
    from openai.types.chat import ChatCompletion

    body = chat_completion(OUT, "judge")
    got = ChatCompletion.model_validate(body)
    assert got.id.startswith("chatcmpl-") and len(got.id) == len("chatcmpl-") + 32
    assert abs(got.created - time.time()) < 5 and got.object == "chat.completion" and got.model == "judge"
    assert got.choices[0].message.content == "You said: hi" and got.choices[0].message.role == "assistant"
    assert (
        got.choices[0].finish_reason == "stop" and got.choices[0].index == 0 and body["choices"][0]["logprobs"] is None
    )
    assert (got.usage.prompt_tokens, got.usage.completion_tokens, got.usage.total_tokens) == (5, 3, 8)


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_stream_is_openai_chunks_then_done(include_usage):
    from openai.types.chat import ChatCompletionChunk

    text = "".join(chat_stream(OUT, "judge", include_usage))
    events = text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and all(e.startswith("data: ") for e in events[:-1])
    chunks = [ChatCompletionChunk.model_validate_json(e.removeprefix("data: ")) for e in events[:-2]]
    assert len({(c.id, c.created, c.model, c.object) for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    first, stop = chunks[0].choices[0], chunks[1].choices[0]
    assert (first.delta.role, first.delta.content, first.finish_reason) == ("assistant", "You said: hi", None)
    assert (stop.delta.role, stop.delta.content, stop.finish_reason) == (None, None, "stop")
    if include_usage:
        assert len(chunks) == 3 and chunks[2].choices == [] and chunks[2].usage.total_tokens == 8
        assert all(c.usage is None for c in chunks[:2]) and '"usage": null' in events[0]
    else:
        assert len(chunks) == 2 and '"usage"' not in text


def test_openai_error_object_names_the_field():
    detail = [{"type": "value_error", "loc": ["n"], "msg": "Value error, n must be 1"}]
    assert openai_error(422, detail) == {
        "message": "n: Value error, n must be 1",
        "type": "invalid_request_error",
        "param": "n",
        "code": None,
    }
    assert openai_error(400, "too long")["param"] is None and openai_error(504, "late")["type"] == "server_error"


def test_fake_engine_answers_conversations_deterministically():
    from ray_jobs.engines.fake import FakeEngine
    from ray_jobs.spec import JudgeSpec

    engine = FakeEngine(JudgeSpec(name="f", engine="fake", mode="generate"))
    long = "w " * 30
    got = engine.answer(
        [
            [{"role": "user", "content": "two plus two?"}],
            [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": long},
                {"role": "assistant", "content": "ok then"},
            ],
        ]
    )
    assert got[0] == {"raw": "You said: two plus two?", "tokens_in": 3, "tokens_out": 5}
    assert got[1] == {"raw": "You said: " + long[:40], "tokens_in": 2 + 30 + 2, "tokens_out": 2 + 20}
