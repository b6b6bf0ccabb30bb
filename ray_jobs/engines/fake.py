"""A model-free engine for pipeline tests: it renders the real prompt and answers by a fixed rule.

Registered by the tests only (tests/conftest.py sets JUDGERAY_ENGINE_PLUGINS=ray_jobs.engines.fake, so
every process that reads a spec, Ray workers included, knows it); a user's `judge` has no such engine.

options (FakeOptions): rule ("longer": the longer shown answer wins, equal = tie; "first":
always answer 1; a pointwise template gets the rating min(10, 1 + words // 10)), fail_uids (rows
that raise, to test isolation), delay (seconds per row, to test stopping mid-run), starts_file (a
line is appended each time an engine is built, to count model loads), nodes_file (the same with the
node it started on, in Ray: multi-node tests). Generate mode writes the
template's own verdict text (Template.answer), so every template's parser reads it. answer() echoes a
conversation's last user message, so a generate-mode fake judge serves /v1/chat/completions in tests.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import Field

from judge_core import prompts
from judge_core.pipeline import presented_row, render

from ..spec import Capability, JudgeSpec, _Options, register_engine
from .base import one_by_one
from .baselines import longer_verdict


class FakeOptions(_Options):
    """The model-free test engine."""

    rule: Literal["longer", "first"] = "longer"
    fail_uids: list[str] = Field(default_factory=list, description="rows that raise (isolation tests)")
    delay: float = Field(0.0, ge=0, description="seconds per row (stop-mid-run tests)")
    starts_file: str | None = Field(None, description="a line is appended per engine start")
    nodes_file: str | None = Field(None, description="a line 'judge node-id' is appended per engine start in Ray")


class FakeEngine:
    def __init__(self, spec: JudgeSpec):
        self.spec, self.opts = spec, spec.opts
        if self.opts.starts_file:
            with open(self.opts.starts_file, "a") as f:
                f.write(f"{spec.name}\n")
        if self.opts.nodes_file:
            import ray  # only with nodes_file (the multi-node tests)

            with open(self.opts.nodes_file, "a") as f:
                f.write(f"{spec.name} {ray.get_runtime_context().get_node_id()}\n")

    def _verdict(self, row, tpl: prompts.Template) -> int:
        ex = presented_row(row)
        if tpl.pointwise:
            v = min(10, 1 + len(str(ex.answer).split()) // 10)
        else:
            v = 1 if self.opts.rule == "first" else longer_verdict(ex)
        return v if v in tpl.verdicts else 1  # a template without ties: the fake judge says answer 1

    def _one(self, row, template: str) -> dict:
        if row["uid"] in self.opts.fail_uids:
            raise RuntimeError(f"fake failure on {row['uid']}")
        time.sleep(self.opts.delay)
        tpl = prompts.get(template)
        v = self._verdict(row, tpl)
        tokens = {"tokens_in": sum(len(m["content"].split()) for m in render(row, template))}
        if self.spec.mode == "generate":
            return tokens | {"raw": tpl.answer(v), "tokens_out": 1}
        if tpl.pointwise:
            return tokens | {"score": float(v), "tokens_out": 1}
        probs = [0.1, 0.1, 0.1]
        probs[v] = 0.8
        return tokens | {"probs": tuple(probs), "tokens_out": 1}

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        return one_by_one(lambda rs, t: [self._one(r, t) for r in rs], rows, template)

    def answer(self, conversations: list[list[dict]]) -> list[dict]:
        """Deterministic chat answers: "You said: " and the last user message's first 40 characters;
        tokens are whitespace words (all messages in, the answer out)."""
        return [self._reply(messages) for messages in conversations]

    def _reply(self, messages: list[dict]) -> dict:
        time.sleep(self.opts.delay)
        said = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        raw = "You said: " + said[:40]
        return {
            "raw": raw,
            "tokens_in": sum(len(m["content"].split()) for m in messages),
            "tokens_out": len(raw.split()),
        }


register_engine("fake", Capability(FakeOptions, "fake:FakeEngine", prompted=True, label_mode=True, needs_model=False))
