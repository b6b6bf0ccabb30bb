"""MT-Bench's pairwise judge prompts (FastChat judge_prompts.jsonl): pair-v2, pair-math-v1 when a
reference answer is given, pair-v2-multi-turn / pair-math-v1-multi-turn for conversations
(generalised from 2 to N turns).

Verdict = [[A]] / [[B]] / [[C]] (tie): the last one outside quotes (strict: several that disagree are
"ambiguous"); an echo of the format is no verdict. FastChat's own parser tests `"[[A]]" in judgment`
before [[B]], so a judgment holding both is read as A whatever it concluded: a bias towards the first
position that this template does not copy.
"""

from __future__ import annotations

import re
from typing import cast

from ..schema import PairExample
from ..verdicts import Verdict
from .base import (
    LabelSpec,
    Parsed,
    Template,
    conversation_block,
    marked_verdict,
    multi_turn_messages,
    reference_text,
)
from .quotes import Spans

_TAIL = (
    "Avoid any position biases and ensure that the order in which the responses were presented "
    "does not influence your decision. Do not allow the length of the responses to influence your "
    "evaluation. Do not favor certain names of the assistants. Be as objective as possible. After "
    "providing your explanation, output your final verdict by strictly following this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
)
SYSTEM_PAIR = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. You should choose the assistant that "
    "follows the user's instructions and answers the user's question better. Your evaluation "
    "should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, "
    "and level of detail of their responses. Begin your evaluation by comparing the two "
    "responses and provide a short explanation. " + _TAIL
)
SYSTEM_MATH = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. Your evaluation should consider "
    "correctness and helpfulness. You will be given a reference answer, assistant A's answer, "
    "and assistant B's answer. Your job is to evaluate which assistant's answer is better. "
    "Begin your evaluation by comparing both assistants' answers with the reference answer. "
    "Identify and correct any mistakes. " + _TAIL
)
SYSTEM_MULTI = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user questions. You should choose the assistant that follows the "
    "user's instructions and answers the user's questions better. Your evaluation should "
    "consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and "
    "level of detail of their responses. You should focus on who provides a better answer to "
    "the {which} user question. Begin your evaluation by comparing the responses of the two "
    "assistants and provide a short explanation. " + _TAIL
)
SYSTEM_MULTI_MATH = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user questions. Your evaluation should consider correctness and "
    "helpfulness. You will be given reference answers, the assistant A's answers, the assistant "
    "B's answers. Your job is to determine which assistant provides correct and helpful answers "
    "to the {which} user question. Begin your evaluation by comparing both assistants' answers "
    "with the reference answers. Identify and correct any mistakes. " + _TAIL
)
# '"[[A]]" if assistant A is better' is the instruction's format echoed back, not a verdict
_VERDICT = re.compile(r"\[\[([ABC])\]\](?!\"?\s+(?:if|for)\b)")
_LETTER: dict[str, Verdict] = {"A": 1, "B": 2, "C": 0}


def _single(ex: PairExample) -> list[dict]:
    ref = reference_text(ex)
    body = f"[User Question]\n{ex.question}\n\n"
    if ref is not None:
        body += f"[The Start of Reference Answer]\n{ref}\n[The End of Reference Answer]\n\n"
    body += (
        f"[The Start of Assistant A's Answer]\n{ex.answer1}\n[The End of Assistant A's Answer]\n\n"
        f"[The Start of Assistant B's Answer]\n{ex.answer2}\n[The End of Assistant B's Answer]"
    )
    return [
        {"role": "system", "content": SYSTEM_MATH if ref is not None else SYSTEM_PAIR},
        {"role": "user", "content": body},
    ]


def build(ex: PairExample) -> list[dict]:
    if isinstance(ex.question, str):
        return _single(ex)
    if len(ex.question) == 1:
        return _single(
            ex.model_copy(update={"question": ex.question[0], "answer1": ex.answer1[0], "answer2": ex.answer2[0]})
        )
    a1, a2 = cast(list[str], ex.answer1), cast(list[str], ex.answer2)  # a conversation's answers have turns
    body = conversation_block(ex, "A", a1) + "\n\n\n" + conversation_block(ex, "B", a2)
    return multi_turn_messages(ex, body, SYSTEM_MULTI, SYSTEM_MULTI_MATH)


def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:
    read = lambda m: Parsed(_LETTER[m.group(1)])  # noqa: E731
    return marked_verdict(_VERDICT, text, read, "no [[A]]/[[B]]/[[C]] verdict", quoted, "agree" if strict else "last")


TEMPLATE = Template(
    name="mtbench-pair",
    build=build,
    parse=parse,
    markers=(
        "[[A]]",
        "[[B]]",
        "[[C]]",
        "[User Question]",
        "[The Start of",
        "[The End of",
        "<|The Start of",
        "<|The End of",
        "### User:",
        "### Assistant A:",
        "### Assistant B:",
        "### Reference answer:",
    ),
    label=LabelSpec(prefix="[[", words={1: "A", 2: "B", 0: "C"}, suffix="]]"),
    rule="the last [[A]]/[[B]]/[[C]] outside quotes (FastChat's A-before-B test is biased to A)",
    description="MT-Bench pair-v2 (pair-math-v1 with a reference, their multi-turn forms for conversations): [[A]]/[[B]]/[[C]]",
)
