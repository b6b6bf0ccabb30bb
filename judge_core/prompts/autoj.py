"""Auto-J's pairwise protocol prompt ("pairwise_tie") and its parser.

Prompt text from GAIR-NLP/auto-j codes/usage/constants_prompt.py; the Llama-2 [INST] wrapper is
the model's chat template, applied by the engine. Parser = Auto-J's extract_pariwise_result:
the text after the LAST "final decision is " must start with Response 1 / Response 2 / Tie.
"""
from __future__ import annotations

from .base import Parsed, Template, answer_text, question_text

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
_CHOICES = (("response 1", 1), ("response 2", 2), ("tie", 0))


def build(ex) -> list[dict]:
    content = PAIRWISE_TIE.format(prompt=question_text(ex), response=answer_text(ex.answer1),
                                  response_another=answer_text(ex.answer2))
    return [{"role": "user", "content": content}]


def parse(text: str) -> Parsed:
    text = text.strip()
    pos = text.rfind(_KEY)
    if pos < 0:
        return Parsed(None, "no 'final decision is' statement")
    rest = text[pos + len(_KEY):].strip().lower()
    for word, verdict in _CHOICES:
        if rest.startswith(word):
            return Parsed(verdict)
    return Parsed(None, f"final decision is neither Response 1, Response 2 nor Tie: {rest[:30]!r}")


TEMPLATE = Template(
    name="autoj", build=build, parse=parse,
    markers=("final decision is", "[BEGIN DATA]", "[END DATA]", "[Query]:", "[Response 1]:",
             "[Response 2]:"),
    description="Auto-J pairwise_tie protocol: critique, then 'So, the final decision is Response 1/2/Tie'",
    written={1: "So, the final decision is Response 1", 2: "So, the final decision is Response 2",
             0: "So, the final decision is Tie"},
)
