"""Any OpenAI-compatible chat endpoint (a vLLM server, our serve app, a hosted API) as a judge.

options (spec.OpenAIOptions): base_url (default $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1),
api_key_env (name of the environment variable holding the key, default OPENAI_API_KEY; never put a
key in a config), max_concurrency (requests in flight per actor, default 8), max_retries (default 5),
backoff (first wait in seconds, default 1, doubled each retry; Retry-After is honoured), timeout
(seconds, default 120), max_new_tokens (generate, default 512; sent as the API's max_tokens, and
`max_tokens` is accepted as its name), temperature (default 0), seed (default 0), extra_body.

Label mode asks for one token with `logprobs`/`top_logprobs` after an assistant pre-fill
(`continue_final_message`, a vLLM extension: hosted APIs that lack it should use generate mode).
429, 5xx and connection errors are retried; any other error fails that row only, with its message.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from judge_core import prompts
from judge_core.pipeline import render

from ..spec import JudgeSpec
from .base import failed
from .prompting import label_output

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIEngine:
    def __init__(self, spec: JudgeSpec):

        o = spec.opts
        self.spec, self.session = spec, requests.Session()
        self.url = (o.base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        key = os.environ.get(o.api_key_env)
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.concurrency, self.retries, self.backoff, self.timeout = (
            o.max_concurrency,
            o.max_retries,
            o.backoff,
            o.timeout,
        )
        self.body = {"model": spec.model, "temperature": o.temperature, "seed": o.seed} | o.extra_body
        self.max_tokens = o.max_new_tokens

    def _post(self, body: dict) -> dict:

        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                r = self.session.post(
                    f"{self.url}/chat/completions", json=body, headers=self.headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code == 200:
                    return r.json()
                error = f"HTTP {r.status_code}: {r.text[:300]}"
                if r.status_code not in RETRY_STATUS:
                    raise RuntimeError(error)
                wait = float(r.headers.get("Retry-After") or wait)
            if attempt < self.retries:
                time.sleep(wait)
        raise RuntimeError(f"gave up after {self.retries + 1} attempts: {error}")

    def _label(self, messages: list[dict], template: str) -> dict:
        """One token after the label pre-fill, read from its top log-probabilities."""
        label = prompts.get(template).label
        if label is None:
            raise ValueError(f"template {template!r} has no label words: use mode generate")
        if len({w.split()[0] for w in label.words.values()}) < len(label.words):  # one token is read
            raise ValueError(
                f"template {template!r}'s labels {list(label.words.values())} share their first word, "
                "and an endpoint returns one token: use mode generate"
            )
        resp = self._post(
            self.body
            | {
                "messages": messages + [{"role": "assistant", "content": label.prefix}],
                "max_tokens": 1,
                "logprobs": True,
                "top_logprobs": 20,
                "continue_final_message": True,
                "add_generation_prompt": False,
            }
        )
        return _usage(resp) | label_output(_label_from_top(resp, label), template)

    def _generate(self, messages: list[dict], _template=None) -> dict:
        resp = self._post(self.body | {"messages": messages, "max_tokens": self.max_tokens})
        return _usage(resp) | {"raw": resp["choices"][0]["message"]["content"]}

    def _timed(self, call, messages_of, item, template) -> dict:
        """call(messages, template) for one row or conversation; a failed request fails it alone, with the reason."""
        start = time.perf_counter()
        try:
            out = call(messages_of(item), template)
        except Exception as exc:  # noqa: BLE001
            out = failed(f"{type(exc).__name__}: {exc}"[:500])
        return out | {"seconds": time.perf_counter() - start}

    def _map(self, call, messages_of, items: list, template) -> list[dict]:
        with ThreadPoolExecutor(self.concurrency) as pool:  # bounded: at most `concurrency` in flight
            return list(pool.map(lambda item: self._timed(call, messages_of, item, template), items))

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        call = self._label if self.spec.mode == "label" else self._generate
        return self._map(call, lambda row: render(row, template), rows, template)

    def answer(self, conversations: list[list[dict]]) -> list[dict]:
        """Answers to chat conversations (judge compare), bounded concurrency and retries as judging."""
        return self._map(self._generate, lambda messages: messages, conversations, None)


def _usage(resp: dict) -> dict:
    usage = resp.get("usage") or {}
    return {"tokens_in": usage.get("prompt_tokens"), "tokens_out": usage.get("completion_tokens")}


def _label_from_top(resp: dict, label: prompts.LabelSpec) -> dict[int, float]:
    """{label: log-probability} from the first generated token's top log-probabilities. A token
    belongs to the label it spells exactly, else to the one label whose word it starts ("T" for
    "Tie"); a token starting several words ("1" of "10" when "1" is no label) counts for none.
    Each label takes its best token; labels absent from the top list get probability 0; none
    present is an error."""
    top = resp["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    found: dict[int, float] = {}
    for t in top:
        token = t["token"].strip()
        owners = [v for v, w in label.words.items() if w == token] or [
            v for v, w in label.words.items() if token and w.startswith(token)
        ]
        if len(owners) == 1:
            found[owners[0]] = max(found.get(owners[0], -math.inf), t["logprob"])
    if not found:
        raise ValueError(f"no label token among the top log-probabilities: {[t['token'] for t in top][:20]}")
    return found
