"""Auto-J's pairwise protocol prompt ("pairwise_tie") and its parser.

Prompt text from GAIR-NLP/auto-j codes/usage/constants_prompt.py; the Llama-2 [INST] wrapper is
the model's chat template, applied by the engine. Parser = Auto-J's extract_pariwise_result:
the text after the LAST "final decision is " must start with Response 1 / Response 2 / Tie, else the
output is a failure. Ours skips statements inside quotes of the judged texts and the instruction's
format echoed back ("Response 1 / Response 2 / Tie"). Strict: every statement naming a choice is
read, and statements that disagree are "ambiguous".
"""

from __future__ import annotations

import re

from ..schema import PairExample
from ..verdicts import Verdict
from .base import LabelSpec, Parsed, Template, answer_text, marked_verdict, question_text
from .quotes import Spans, inside

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
_ECHO = re.compile(r"final decision is \s*(?i:response 1|response 2|tie)\s*/")


def build(ex: PairExample) -> list[dict]:
    content = PAIRWISE_TIE.format(
        prompt=question_text(ex), response=answer_text(ex.answer1), response_another=answer_text(ex.answer2)
    )
    return [{"role": "user", "content": content}]


def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:
    if strict and _DECISION.search(text):
        read = lambda m: Parsed(_CHOICES[m.group(1).lower()])  # noqa: E731
        return marked_verdict(_DECISION, text, read, "every decision statement quotes an answer", quoted, "agree")
    keys = [m.start() for m in re.finditer(re.escape(_KEY), text) if _own_statement(text, m.start(), quoted)]
    if not keys:
        return Parsed(None, "no 'final decision is' statement")
    rest = text[keys[-1] + len(_KEY) :].strip().lower()  # Auto-J: the LAST statement
    choice = next((c for c in _CHOICES if rest.startswith(c)), None)
    if choice is None:
        return Parsed(None, f"final decision is neither Response 1, Response 2 nor Tie: {rest[:30]!r}")
    return Parsed(_CHOICES[choice])


def _own_statement(text: str, at: int, quoted: Spans) -> bool:
    """A "final decision is" statement at `at` the judge wrote: not the format echoed back, and not
    inside a quote (with the choice it names, where it names one)."""
    decision = _DECISION.match(text, at)
    if decision is None and _ECHO.match(text, at):
        return False
    return not inside(at, decision.end() if decision else at + len(_KEY), quoted)


TEMPLATE = Template(
    name="autoj",
    build=build,
    parse=parse,
    markers=("final decision is", "[BEGIN DATA]", "[END DATA]", "[Query]:", "[Response 1]:", "[Response 2]:"),
    rule="Auto-J's extract_pariwise_result: the choice after the LAST 'final decision is '",
    description="Auto-J pairwise_tie protocol: critique, then 'So, the final decision is Response 1/2/Tie'",
    # label mode reads the decision statement at once, with no critique before it; answer(v) is the
    # statement Auto-J writes ("So, the final decision is Response 1")
    label=LabelSpec(prefix="So, the final decision is ", words={1: "Response 1", 2: "Response 2", 0: "Tie"}),
)
