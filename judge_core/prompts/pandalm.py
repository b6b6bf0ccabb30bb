"""PandaLM's prompt and parser (pandalm/utils/pandalm_inference.py).

PandaLM writes its verdict alone on the FIRST line ("1", "2" or "Tie"), then "### Reason:" and
"### Reference:". The parser reads that first line exactly as PandaLM's parse_pandalm_response
does; a last-marker rule would read digits from the reason or reference instead. Unlike PandaLM's
code, an unreadable first line is a parse failure here, not a tie: the pandalm protocol counts
failures as ties by default, which reproduces PandaLM's released numbers.
"""

from __future__ import annotations

from typing import cast

from ..schema import PairExample
from ..verdicts import Verdict
from .base import LabelSpec, Parsed, Template, answer_text, question_text
from .quotes import Spans, own_lines

_HEAD = (
    "Below are two responses for a given task. The task is defined by the Instruction{extra}. "
    "Evaluate the responses and generate a reference answer for the task.\n\n"
)


def build(ex: PairExample) -> list[dict]:
    # PandaLM's own examples keep instruction and input apart (meta); others have one question.
    instruction, extra = ex.meta.get("instruction"), ex.meta.get("input", "")
    if instruction is None:
        instruction, extra = question_text(ex), ""
    rsp = f"### Response 1:\n{answer_text(ex.answer1).strip()}\n\n### Response 2:\n{answer_text(ex.answer2).strip()}"
    if extra.strip():
        text = (
            _HEAD.format(extra=" with an Input that provides further context")
            + f"### Instruction:\n{instruction}\n\n### Input:\n{extra}\n\n{rsp}\n\n### Evaluation:\n"
        )
    else:
        text = _HEAD.format(extra="") + f"### Instruction:\n{instruction}\n\n{rsp}\n\n### Evaluation:\n"
    return [{"role": "user", "content": text}]


def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:  # one rule: strict reads the same line
    first = next(iter(own_lines(text, quoted)), "").strip()  # the first line the judge wrote itself
    if first in ("1", "2"):
        return Parsed(cast(Verdict, int(first)))
    if first.lower() == "tie":
        return Parsed(0)
    return Parsed(None, f"first line is not 1, 2 or Tie: {first[:30]!r}")


TEMPLATE = Template(
    name="pandalm",
    build=build,
    parse=parse,
    markers=(
        "### Instruction:",
        "### Input:",
        "### Response 1:",
        "### Response 2:",
        "### Evaluation:",
        "### Reason:",
        "### Reference:",
    ),
    label=LabelSpec(prefix="", words={1: "1", 2: "2", 0: "Tie"}),
    rule="PandaLM's parse_pandalm_response: the first line, exactly 1, 2 or Tie",
    strict_differs=False,
    description="PandaLM: verdict 1/2/Tie on the first line, then reason and reference",
)
