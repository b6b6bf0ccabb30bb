"""MT-Bench's pointwise judge prompts (FastChat judge_prompts.jsonl): single-v1, single-math-v1 when a
reference answer is given, single-v1-multi-turn / single-math-v1-multi-turn for conversations (generalised from 2 to N turns).

Score = FastChat's rule: the first "[[k]]" rating outside quotes, else the first "[k]"; a rating off
the 1-10 scale is a parse failure, not a clamp. Strict: every [[k]] is read and ratings that disagree
are "ambiguous". The instruction's own example ('for example: "Rating: [[5]]"') is never a rating.
Label mode reads the ratings' first tokens after "Rating: [[" and gives the expected rating; it needs
a tokenizer in which "1" and "10" start with different tokens (Llama-3, GPT-4o); with one that splits
digits (Llama-2, Qwen2) every row fails with that reason: use generate mode there.
"""

from __future__ import annotations

import re
from typing import cast

from ..schema import PointExample
from .base import (
    RATING,
    LabelSpec,
    Parsed,
    Template,
    conversation_block,
    marked_verdict,
    multi_turn_messages,
    own_matches,
    reference_text,
)
from .quotes import Spans

SYSTEM = "You are a helpful assistant."
_RATE = (
    "After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly "
    'following this format: "[[rating]]", for example: "Rating: [[5]]".'
)
_GENERAL = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such "
    "as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response."
)
_MATH = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider correctness and "
    "helpfulness. You will be given a reference answer and the assistant's answer."
)
INSTRUCTION_GENERAL = (
    _GENERAL + " Begin your evaluation by providing a short explanation. Be as objective as possible. " + _RATE
)
INSTRUCTION_MATH = (
    _MATH + " Begin your evaluation by comparing the assistant's answer with the reference answer. "
    "Identify and correct any mistakes. Be as objective as possible. " + _RATE
)
SYSTEM_MULTI = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such "
    "as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the "
    "response. You evaluation should focus on the assistant's answer to the {which} user question. "
    "Begin your evaluation by providing a short explanation. Be as objective as possible. " + _RATE + "\n\n"
)
SYSTEM_MULTI_MATH = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question. Your evaluation should consider correctness and helpfulness. "
    "You will be given a reference answer and the assistant's answer. You evaluation should focus "
    "on the assistant's answer to the {which} question. Begin your evaluation by comparing the "
    "assistant's answer with the reference answer. Identify and correct any mistakes. Be as "
    "objective as possible. " + _RATE + "\n\n"
)
SCALE = (1, 10)


def _single(ex: PointExample) -> list[dict]:
    ref = reference_text(ex)
    body = f"[Instruction]\n{INSTRUCTION_MATH if ref is not None else INSTRUCTION_GENERAL}\n\n[Question]\n{ex.question}\n\n"
    if ref is not None:
        body += f"[The Start of Reference Answer]\n{ref}\n[The End of Reference Answer]\n\n"
    body += f"[The Start of Assistant's Answer]\n{ex.answer}\n[The End of Assistant's Answer]"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": body}]


def build(ex: PointExample) -> list[dict]:
    if isinstance(ex.question, str):
        return _single(ex)
    if len(ex.question) == 1:
        ref = ex.reference[0] if isinstance(ex.reference, list) else ex.reference
        return _single(ex.model_copy(update={"question": ex.question[0], "answer": ex.answer[0], "reference": ref}))
    answer = cast(list[str], ex.answer)  # a conversation's answer has turns (the schema checks)
    return multi_turn_messages(ex, conversation_block(ex, "A", answer), SYSTEM_MULTI, SYSTEM_MULTI_MATH)


# 'for example: "Rating: [[5]]"' is the instruction echoed back, not a rating
_RATING = re.compile(r'(?<!example: "Rating: )' + RATING.pattern)


def _rating(m: re.Match) -> Parsed:
    rating = float(m.group(1))
    if not SCALE[0] <= rating <= SCALE[1]:
        return Parsed(None, f"rating {m.group(1)} is off the 1-10 scale")
    return Parsed(None, scores=(rating,))


# FastChat's one_score_pattern_backup, but not inside a [[k]] that rendering broke with a zero-width space
_BACKUP = re.compile(r"(?<![\[\u200b])\[(\d+\.?\d*)\](?![\]\u200b])")


def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:
    if strict:
        return marked_verdict(_RATING, text, _rating, "no [[rating]]", quoted, "agree")
    pattern = _RATING if own_matches(_RATING, text, quoted) else _BACKUP  # FastChat tries the backup only then
    return marked_verdict(pattern, text, _rating, "no [[rating]] or [rating]", quoted, "first")


TEMPLATE = Template(
    name="mtbench-single",
    build=build,
    parse=parse,
    pointwise=True,
    markers=(
        "[[",
        "]]",
        "[Instruction]",
        "[Question]",
        "[The Start of",
        "[The End of",
        "<|The Start of",
        "<|The End of",
        "### User:",
        "### Assistant A:",
        "### Reference answer:",
        "<|The Start of Reference Answer|>",
    ),
    label=LabelSpec(prefix="Rating: [[", words={k: str(k) for k in range(SCALE[0], SCALE[1] + 1)}, suffix="]]"),
    rule="FastChat's single-answer rule: the first [[rating]], else the first [rating]",
    description="MT-Bench single-v1 (single-math-v1 with a reference, multi-turn for conversations): Rating: [[1-10]]",
)
