"""Auto-J's pairwise protocol prompt ("pairwise_tie") and its parser.

Prompt text from GAIR-NLP/auto-j codes/usage/constants_prompt.py; the Llama-2 [INST] wrapper is
the model's chat template, applied by the engine. Parser = Auto-J's extract_pariwise_result:
the text after the LAST "final decision is " must start with Response 1 / Response 2 / Tie. Ours
reads every such statement and calls statements that disagree "ambiguous" (an answer quoted after
the verdict cannot forge it); a statement naming no choice, or the format echoed back, is skipped.
"""

from __future__ import annotations

import re

from ..schema import PairExample
from ..verdicts import Verdict
from .base import LabelSpec, Parsed, Template, answer_text, one_verdict, question_text
from .quotes import Spans

PAIRWISE_TIE = """You are assessing two submitted responses on a given user's query and judging which response is better or they are tied. Here is the data:

[BEGIN DATA]
***
[Query]: {prompt}
***
[Response 1]: {response}
***
[Response 2]: {response_another}
***
[END DATA]

Here are the instructions to assess and compare the two responses:

1. Pinpoint the key factors to distinguish these two responses.
2. Conclude your comparison by providing a final decision on which response is better, or they are tied. Begin your final decision statement with "So, the final decision is Response 1 / Response 2 / Tie". Ensure that your decision aligns coherently with the comprehensive evaluation and comparison you've provided."""

_KEY = "final decision is "
_CHOICES: dict[str, Verdict] = {"response 1": 1, "response 2": 2, "tie": 0}
# a decision statement naming a choice; "Response 1 / Response 2 / Tie" is the instruction echoed back
_DECISION = re.compile(r"final decision is \s*(?i:(response 1|response 2|tie))(?!\s*/)")


def build(ex: PairExample) -> list[dict]:
    content = PAIRWISE_TIE.format(
        prompt=question_text(ex), response=answer_text(ex.answer1), response_another=answer_text(ex.answer2)
    )
    return [{"role": "user", "content": content}]


def parse(text: str, quoted: Spans = ()) -> Parsed:
    if _DECISION.search(text):
        return one_verdict(
            _DECISION,
            text,
            lambda m: Parsed(_CHOICES[m.group(1).lower()]),
            "every decision statement quotes an answer",
            quoted,
        )
    pos = text.rfind(_KEY)
    if pos < 0:
        return Parsed(None, "no 'final decision is' statement")
    rest = text[pos + len(_KEY) :].strip().lower()
    return Parsed(None, f"final decision is neither Response 1, Response 2 nor Tie: {rest[:30]!r}")


TEMPLATE = Template(
    name="autoj",
    build=build,
    parse=parse,
    markers=("final decision is", "[BEGIN DATA]", "[END DATA]", "[Query]:", "[Response 1]:", "[Response 2]:"),
    description="Auto-J pairwise_tie protocol: critique, then 'So, the final decision is Response 1/2/Tie'",
    # label mode reads the decision statement at once, with no critique before it; answer(v) is the
    # statement Auto-J writes ("So, the final decision is Response 1")
    label=LabelSpec(prefix="So, the final decision is ", words={1: "Response 1", 2: "Response 2", 0: "Tie"}),
)
