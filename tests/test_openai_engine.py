"""The openai engine against a local OpenAI-compatible server started by the test: auth from the
environment, bounded concurrency, retries with backoff, label mode from top log-probabilities."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from judge_core.pipeline import expand, to_judgment
from judge_core.schema import PairExample
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import JudgeSpec


class FakeOpenAI(BaseHTTPRequestHandler):
    state: ClassVar[dict] = {"in_flight": 0, "max_in_flight": 0, "calls": 0, "throttle": 0, "bodies": []}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _send(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        s = self.state
        with self.lock:
            s["calls"] += 1
            s["bodies"].append(body)
            throttle = s["throttle"] > 0
            s["throttle"] -= throttle
            s["in_flight"] += 1
            s["max_in_flight"] = max(s["max_in_flight"], s["in_flight"])
        try:
            reply = self._reply(body, throttle)
        finally:  # counted out before the response leaves: the client cannot send again before that
            with self.lock:
                s["in_flight"] -= 1
        self._send(*reply)

    def _reply(self, body, throttle):
        if self.headers.get("Authorization") != "Bearer sk-test":
            return 401, {"error": "bad key"}
        if throttle:
            return 429, {"error": "slow down"}, [("Retry-After", "0.01")]
        time.sleep(0.02)
        if body["messages"][0]["role"] == "user":  # a conversation to answer (judge compare), not a judge prompt
            if "POISON" in body["messages"][-1]["content"]:
                return 400, {"error": "context length exceeded"}
            reply = (
                f"reply to turn {sum(m['role'] == 'user' for m in body['messages'])}: {body['messages'][-1]['content']}"
            )
            return 200, {
                "choices": [{"message": {"content": reply}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 4},
            }
        user = body["messages"][1]["content"]
        if "POISON" in user:
            return 400, {"error": "context length exceeded"}
        a1 = user.split("[The Start of Answer 1]")[1].split("[The End of Answer 1]")[0]
        a2 = user.split("[The Start of Answer 2]")[1].split("[The End of Answer 2]")[0]
        winner = "1" if len(a1) > len(a2) else "2"
        usage = {"prompt_tokens": len(user.split()), "completion_tokens": 1}
        if body.get("logprobs"):
            top = [
                {"token": winner, "logprob": -0.1},
                {"token": "0", "logprob": -3.0},
                {"token": "2" if winner == "1" else "1", "logprob": -2.0},
                {"token": "x", "logprob": -5.0},
            ]
            choice = {"message": {"content": winner}, "logprobs": {"content": [{"token": winner, "top_logprobs": top}]}}
        else:
            choice = {"message": {"content": f"Answer {winner} is longer. [{winner}]"}}
        return 200, {"choices": [choice], "usage": usage}


@pytest.fixture()
def server(monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    FakeOpenAI.state.update(in_flight=0, max_in_flight=0, calls=0, throttle=0, bodies=[])
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test")
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def _examples(n):
    return [
        PairExample(
            benchmark="b",
            subset="s",
            index=i,
            question=f"q{i}",
            answer1="long answer " * (i % 3 + 1),
            answer2="mid answer text",
            label=1,
        )
        for i in range(n)
    ]


def _spec(url, mode="generate", **opts):
    return JudgeSpec(
        name="o",
        engine="openai",
        model="judge",
        mode=mode,
        options={"base_url": url, "api_key_env": "JUDGE_TEST_KEY", "max_concurrency": 3, "backoff": 0.01} | opts,
    )


def test_generate_mode_bounded_concurrency_and_retries(server):
    FakeOpenAI.state["throttle"] = 4  # the first four requests get 429 + Retry-After
    rows = expand(_examples(12), ("ab", "ba"))
    outs = build_engine(_spec(server)).judge(rows, "label")
    assert all(o.get("error") is None for o in outs)
    assert FakeOpenAI.state["calls"] == 24 + 4 and FakeOpenAI.state["max_in_flight"] <= 3
    js = [to_judgment(r, o, "label", "o") for r, o in zip(rows, outs)]
    for r, j in zip(rows, js):  # the server picks the longer shown answer; mapped back it is the same answer
        ex = _examples(12)[int(r["uid"].split("/")[-1])]
        assert j.verdict == (1 if len(ex.answer1) > len(ex.answer2) else 2)
    assert FakeOpenAI.state["bodies"][-1]["temperature"] == 0 and js[0].tokens_in > 0


def test_label_mode_reads_top_logprobs(server):
    rows = expand(_examples(2), ("ab",))
    outs = build_engine(_spec(server, "label")).judge(rows, "label")
    body = FakeOpenAI.state["bodies"][-1]
    assert body["max_tokens"] == 1 and body["messages"][-1] == {"role": "assistant", "content": "["}
    p_tie, p1, p2 = outs[1]["probs"]  # example 1: answer1 is longer
    assert p1 > p2 > p_tie and p1 + p2 + p_tie == pytest.approx(1)
    assert p1 / p2 == pytest.approx(2.718281828**1.9)
    sent = len(FakeOpenAI.state["bodies"])  # Auto-J's "Response 1"/"Response 2" need two tokens: refused, not a Tie
    outs = build_engine(_spec(server, "label")).judge(rows, "autoj")
    assert all("share their first word" in o["error"] for o in outs) and len(FakeOpenAI.state["bodies"]) == sent


def test_errors_fail_their_row_only(server, monkeypatch):
    examples = _examples(3)
    examples[1] = examples[1].model_copy(update={"answer1": "POISON"})
    rows = expand(examples, ("ab",))
    outs = build_engine(_spec(server)).judge(rows, "label")
    assert "HTTP 400" in outs[1]["error"] and outs[0].get("error") is None and outs[2].get("error") is None
    monkeypatch.setenv("JUDGE_TEST_KEY", "wrong")
    outs = build_engine(_spec(server, max_retries=1)).judge(rows[:1], "label")
    assert "HTTP 401" in outs[0]["error"]
    FakeOpenAI.state["throttle"] = 100
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test")
    outs = build_engine(_spec(server, max_retries=2)).judge(rows[:1], "label")
    assert "gave up after 3 attempts: HTTP 429" in outs[0]["error"]


def test_answer_generation_for_compare(server):
    chats = [
        [{"role": "user", "content": "hi"}],
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}],
        [{"role": "user", "content": "POISON"}],
    ]
    outs = build_engine(_spec(server, max_tokens=64)).answer(chats)
    assert [o.get("raw") for o in outs[:2]] == ["reply to turn 1: hi", "reply to turn 2: c"]
    assert outs[1]["tokens_out"] == 4 and "HTTP 400" in outs[2]["error"] and outs[2]["raw"] is None
    sent = [b for b in FakeOpenAI.state["bodies"] if b["messages"][0]["role"] == "user"]
    assert len(sent) == 3 and all(b["max_tokens"] == 64 for b in sent)
    assert any(b["messages"] == chats[1] for b in sent)  # the conversation goes as is, earlier turns included
