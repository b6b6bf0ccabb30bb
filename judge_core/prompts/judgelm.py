"""JudgeLM's score-pair prompt (judgelm/llm_judge/common.py, conv_judge_pair[_w_reference]).

The judge first writes "s1 s2" on a line of its own; the higher score wins, equal is a tie.
Parser = JudgeLM's parse_score on the first line (commas allowed as separators), except that any
run of whitespace separates the two numbers.
"""

from __future__ import annotations

from ..schema import PairExample
from .base import Parsed, Template, answer_text, question_text, reference_text
from .quotes import Spans, own_lines

SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
PROMPT = (
    "We would like to request your feedback on the performance of two AI assistants in response "
    "to the user question displayed above.\nPlease rate the helpfulness, relevance, accuracy, "
    "level of details of their responses. Each assistant receives an overall score on a scale of "
    "1 to 10, where a higher score indicates better overall performance.\nPlease first output a "
    "single line containing only two values indicating the scores for Assistant 1 and 2, "
    "respectively. The two scores are separated by a space. In the subsequent line, please "
    "provide a comprehensive explanation of your evaluation, avoiding any potential bias and "
    "ensuring that the order in which the responses were presented does not affect your judgment."
)
BODY = (
    "[Question]\n{question}\n\n{reference}[The Start of Assistant 1's Answer]\n{answer_1}\n\n"
    "[The End of Assistant 1's Answer]\n\n[The Start of Assistant 2's Answer]\n{answer_2}\n\n"
    "[The End of Assistant 2's Answer]\n\n[System]\n{prompt}\n\n"
)


def build(ex: PairExample) -> list[dict]:
    ref = reference_text(ex)
    body = BODY.format(
        question=question_text(ex),
        answer_1=answer_text(ex.answer1),
        answer_2=answer_text(ex.answer2),
        prompt=PROMPT,
        reference="" if ref is None else f"[Reference Answer]\n{ref}\n\n",
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": body}]


def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:  # one rule: strict reads the same line
    first = next(iter(own_lines(text, quoted)), "").replace(",", " ").split()  # the first line the judge wrote
    if len(first) != 2:
        return Parsed(None, f"first line is not a score pair: {' '.join(first)[:30]!r}")
    try:
        s1, s2 = float(first[0]), float(first[1])
    except ValueError:
        return Parsed(None, f"score pair is not numeric: {' '.join(first)[:30]!r}")
    return Parsed(1 if s1 > s2 else 2 if s2 > s1 else 0, scores=(s1, s2))


TEMPLATE = Template(
    name="judgelm",
    build=build,
    parse=parse,
    markers=("[Question]", "[Reference Answer]", "[The Start of Assistant", "[The End of Assistant", "[System]"),
    rule="JudgeLM's parse_score: two numbers on the first line (commas allowed)",
    strict_differs=False,
    description="JudgeLM: 'score1 score2' on the first line, then an explanation",
    written={1: "8 6", 2: "6 8", 0: "7 7"},
)
