"""The short label prompt: the judge answers with exactly one of [1], [2] or [0] (tie).

Built for label mode: the assistant turn is pre-filled with "[" and one forward pass reads the
probabilities of "1", "2" and "0" (see docs/engines.md, "Label mode"). In generate mode the verdict is
the last [0]/[1]/[2] label outside quotes (strict: the labels must agree, else "ambiguous"); a label
followed by "if" is the instruction's options echoed back, never a verdict.
"""

from __future__ import annotations

import re
from typing import cast

from ..schema import PairExample
from ..verdicts import Verdict
from .base import LabelSpec, Parsed, Template, answer_text, marked_verdict, question_text, reference_text
from .quotes import Spans

SYSTEM = (
    "You are a fair judge of answers written by AI assistants. Judge which answer serves the "
    "user's question better: correct, helpful, honest and following the instructions. The "
    "order of the answers and their length must not affect your judgment."
)
INSTRUCTION = (
    "Which answer is better? Reply with exactly one label and nothing else: [1] if "
    "Answer 1 is better, [2] if Answer 2 is better, [0] if they are equally good."
)
# "[2] if Answer 2 is better" is the instruction's option list echoed back (small models do), not a verdict
_VERDICT = re.compile(r"\[([012])\](?!\s+if\b)")


def build(ex: PairExample) -> list[dict]:
    parts = [f"[Question]\n{question_text(ex)}"]
    ref = reference_text(ex)
    if ref is not None:
        parts.append(f"[The Start of Reference Answer]\n{ref}\n[The End of Reference Answer]")
    for i, answer in ((1, ex.answer1), (2, ex.answer2)):
        parts.append(f"[The Start of Answer {i}]\n{answer_text(answer)}\n[The End of Answer {i}]")
    parts.append(INSTRUCTION)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:
    read = lambda m: Parsed(cast(Verdict, int(m.group(1))))  # noqa: E731  (_VERDICT's group is a 0, 1 or 2)
    return marked_verdict(_VERDICT, text, read, "no [0]/[1]/[2] label", quoted, "agree" if strict else "last")


TEMPLATE = Template(
    name="label",
    build=build,
    parse=parse,
    markers=("[0]", "[1]", "[2]", "[Question]", "[The Start of", "[The End of"),
    label=LabelSpec(prefix="[", words={1: "1", 2: "2", 0: "0"}, suffix="]"),
    rule="the last [0]/[1]/[2] outside quotes",
    description="Short label prompt answering [1]/[2]/[0]; made for one-forward-pass label mode",
)
