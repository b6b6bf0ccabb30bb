"""A model-free engine for pipeline tests: it renders the real prompt and answers by a fixed rule.

options: rule ("longer": the longer shown answer wins, equal = tie; "first": always answer 1;
a pointwise template gets the rating min(10, 1 + words // 10)),
fail_uids (rows that raise, to test isolation), delay (seconds per row, to test stopping mid-run),
starts_file (a line is appended each time an engine is built, to count model loads).
"""
from __future__ import annotations

import time

from judge_core import prompts
from judge_core.pipeline import presented, render

from .base import JudgeSpec, one_by_one
from .baselines import longer_verdict


class FakeEngine:
    def __init__(self, spec: JudgeSpec):
        self.spec, self.opts = spec, spec.options
        if self.opts.get("starts_file"):
            with open(self.opts["starts_file"], "a") as f:
                f.write(f"{spec.name}\n")

    def _verdict(self, row, pointwise: bool) -> int:
        ex = presented(row)
        if pointwise:
            return min(10, 1 + len(str(ex.answer).split()) // 10)
        if self.opts.get("rule", "longer") == "first":
            return 1
        return longer_verdict(ex)

    def _rows(self, rows, template):
        tpl = prompts.get(template)
        spec = tpl.label
        outs = []
        for row in rows:
            if row["uid"] in self.opts.get("fail_uids", ()):
                raise RuntimeError(f"fake failure on {row['uid']}")
            time.sleep(self.opts.get("delay", 0.0))
            messages = render(row, template)
            v = self._verdict(row, tpl.pointwise)
            if v not in spec.words:  # a template without tie: the fake judge says answer 1
                v = 1
            tokens = sum(len(m["content"].split()) for m in messages)
            if self.spec.mode == "label" and tpl.pointwise:
                outs.append({"score": float(v), "tokens_in": tokens, "tokens_out": 0})
            elif self.spec.mode == "label":
                probs = [0.1, 0.1, 0.1]
                probs[v] = 0.8
                outs.append({"probs": tuple(probs), "tokens_in": tokens, "tokens_out": 0})
            else:
                outs.append({"raw": spec.answer(v), "tokens_in": tokens, "tokens_out": 1})
        return outs

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        return one_by_one(self._rows, rows, template)
