"""The token budget shared by inference and fine-tuning: every segment stays visible.

    caps = allocate([900, 40, 3000], budget=1000)     # [480, 40, 480]
    kept = fit_segments([question_ids, a1_ids, a2_ids], budget=1000)

When a question and its answers do not fit, each keeps its beginning and the budget is shared by
water-filling: segments shorter than an equal share keep everything, the rest share what is left
equally. The hf and vllm engines (ray_jobs.engines.prompting), classifier inference and
fine-tuning (ray_jobs.finetune.tokenize) all cut with this rule, so a fine-tuned judge is trained
on the prompts it will be asked.
"""

from __future__ import annotations

from collections.abc import Sequence

from .prompts.base import answer_text, question_text
from .schema import PairExample, presented


def allocate(lengths: Sequence[int], budget: int) -> list[int]:
    """How many tokens each segment keeps so all fit in `budget`, none is crowded out:
    segments shorter than an equal share keep everything, the rest share what is left equally."""
    caps = [0] * len(lengths)
    remaining = sorted(range(len(lengths)), key=lambda i: lengths[i])
    left = max(0, budget)
    while remaining:
        share = left // len(remaining)
        i = remaining[0]
        if lengths[i] <= share:
            caps[i] = lengths[i]
            left -= lengths[i]
            remaining.pop(0)
        else:
            for j, k in enumerate(remaining):  # the first `extra` longest get one more token
                caps[k] = share + (1 if j >= len(remaining) - left % len(remaining) else 0)
            break
    return caps


def fit_segments(token_lists: Sequence[Sequence[int]], budget: int) -> list[list[int]]:
    """Cut each segment's tokens to its allocate() cap (keeping its beginning)."""
    caps = allocate([len(t) for t in token_lists], budget)
    return [list(t[:c]) for t, c in zip(token_lists, caps)]


def pair_segments(example: PairExample, order: str = "ab") -> list[str]:
    """The three texts an encoder judge reads: question, first and second shown answer, each
    multi-turn conversation flattened turn by turn."""
    shown = presented(example, order)
    return [question_text(shown), answer_text(shown.answer1), answer_text(shown.answer2)]
