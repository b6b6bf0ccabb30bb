"""Any OpenAI-compatible chat endpoint (a vLLM server, our serve app, a hosted API) as a judge.

options: base_url (default $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1), api_key_env (name of the
environment variable holding the key, default OPENAI_API_KEY; never put a key in a config),
max_concurrency (requests in flight per actor, default 8), max_retries (default 5), backoff (first
wait in seconds, default 1, doubled each retry; Retry-After is honoured), timeout (seconds, default
120), max_tokens (generate, default 512), temperature (default 0), seed (default 0), extra_body.

Label mode asks for one token with `logprobs`/`top_logprobs` after an assistant pre-fill
(`continue_final_message`, a vLLM extension: hosted APIs that lack it should use generate mode).
429, 5xx and connection errors are retried; any other error fails that row only, with its message.
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor

from judge_core import prompts
from judge_core.pipeline import render

from .base import JudgeSpec, failed
from .prompting import label_output

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIEngine:
    def __init__(self, spec: JudgeSpec):
        import requests

        o = spec.options
        self.spec, self.session = spec, requests.Session()
        self.url = (o.get("base_url") or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        key = os.environ.get(o.get("api_key_env", "OPENAI_API_KEY"))
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.concurrency, self.retries = int(o.get("max_concurrency", 8)), int(o.get("max_retries", 5))
        self.backoff, self.timeout = float(o.get("backoff", 1.0)), float(o.get("timeout", 120))
        self.body = {"model": spec.model, "temperature": o.get("temperature", 0), "seed": o.get("seed", 0)} | o.get("extra_body", {})
        self.max_tokens = int(o.get("max_tokens", 512))

    def _post(self, body: dict) -> dict:
        import requests

        for attempt in range(self.retries + 1):
            wait = self.backoff * 2 ** attempt
            try:
                r = self.session.post(f"{self.url}/chat/completions", json=body, headers=self.headers, timeout=self.timeout)
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

    def _one(self, row: dict, template: str) -> dict:
        start = time.perf_counter()
        try:
            messages = render(row, template)
            label = prompts.get(template).label
            if self.spec.mode == "label":
                if label is None:
                    raise ValueError(f"template {template!r} has no label words: use mode generate")
                body = self.body | {"messages": messages + [{"role": "assistant", "content": label.prefix}],
                                    "max_tokens": 1, "logprobs": True, "top_logprobs": 20,
                                    "continue_final_message": True, "add_generation_prompt": False}
                resp = self._post(body)
                out = label_output(_label_from_top(resp, label), template)
            else:
                resp = self._post(self.body | {"messages": messages, "max_tokens": self.max_tokens})
                out = {"raw": resp["choices"][0]["message"]["content"]}
            usage = resp.get("usage") or {}
            return out | {"tokens_in": usage.get("prompt_tokens"), "tokens_out": usage.get("completion_tokens"),
                          "seconds": time.perf_counter() - start}
        except Exception as exc:  # noqa: BLE001 - a failed request fails its row, with the reason
            return failed(f"{type(exc).__name__}: {exc}"[:500]) | {"seconds": time.perf_counter() - start}

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        with ThreadPoolExecutor(self.concurrency) as pool:  # bounded: at most `concurrency` in flight
            return list(pool.map(lambda r: self._one(r, template), rows))

    def _answer_one(self, messages: list[dict]) -> dict:
        start = time.perf_counter()
        try:
            resp = self._post(self.body | {"messages": messages, "max_tokens": self.max_tokens})
            usage = resp.get("usage") or {}
            return {"raw": resp["choices"][0]["message"]["content"], "tokens_in": usage.get("prompt_tokens"),
                    "tokens_out": usage.get("completion_tokens"), "seconds": time.perf_counter() - start}
        except Exception as exc:  # noqa: BLE001 - a failed request fails its conversation, with the reason
            return failed(f"{type(exc).__name__}: {exc}"[:500]) | {"seconds": time.perf_counter() - start}

    def answer(self, conversations: list[list[dict]]) -> list[dict]:
        """Answers to chat conversations (judge compare), bounded concurrency and retries as judging."""
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self._answer_one, conversations))


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
        owners = [v for v, w in label.words.items() if w == token] or \
                 [v for v, w in label.words.items() if token and w.startswith(token)]
        if len(owners) == 1:
            found[owners[0]] = max(found.get(owners[0], -math.inf), t["logprob"])
    if not found:
        raise ValueError(f"no label token among the top log-probabilities: {[t['token'] for t in top][:20]}")
    return found
