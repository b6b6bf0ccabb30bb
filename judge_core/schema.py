"""Record types shared by every part of judgeray.

Verdict convention everywhere: 1 = answer1 better, 2 = answer2 better, 0 = tie.
Loaders map each source's own coding onto it once, at load time.
"""

from __future__ import annotations

import numbers
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .verdicts import Verdict

Text = str | list[str]  # one turn, or every turn of a multi-turn conversation
ORDERS = ("ab", "ba")
Shown = TypeVar("Shown", bound=tuple[float, ...])  # (p_tie, p1, p2) or a pair's (score1, score2)


def _check_text(value: Text, field: str, allow_empty: bool) -> Text:
    turns = [value] if isinstance(value, str) else value
    if isinstance(value, list) and not value:
        raise ValueError(f"{field} has no turns")
    if not allow_empty and not any(t.strip() for t in turns):
        raise ValueError(f"{field} is empty")
    return value


class _Example(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: str = Field(min_length=1)
    subset: str = Field(min_length=1)
    index: int = Field(ge=0, description="zero-based position in the source file")
    question: Text
    reference: Text | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("question")
    @classmethod
    def _question(cls, v: Text) -> Text:
        return _check_text(v, "question", allow_empty=False)

    @property
    def uid(self) -> str:
        return f"{self.benchmark}/{self.subset}/{self.index}"

    @property
    def turns(self) -> list[str]:
        return [self.question] if isinstance(self.question, str) else list(self.question)


class PairExample(_Example):
    """A question with two answers and a gold verdict (None when unlabelled)."""

    answer1: Text
    answer2: Text
    label: Literal[0, 1, 2] | None = None

    @model_validator(mode="after")
    def _answers(self) -> PairExample:
        for name in ("answer1", "answer2"):
            value = getattr(self, name)
            _check_text(value, name, allow_empty=True)
            if isinstance(value, list) != isinstance(self.question, list):
                raise ValueError(f"{name} and question must both be single-turn or both multi-turn")
            if isinstance(value, list) and len(value) != len(self.question):
                raise ValueError(f"{name} has {len(value)} turns, question has {len(self.question)}")
        return self

    def swapped(self) -> PairExample:
        """The same pair presented in the other order (label mapped)."""
        label = to_original(self.label, "ba")
        return self.model_copy(update={"answer1": self.answer2, "answer2": self.answer1, "label": label})


class PointExample(_Example):
    """A question with one answer and a human score on `scale`."""

    answer: Text
    score: float | None = None
    scale: tuple[float, float] = (1.0, 10.0)

    @model_validator(mode="after")
    def _score(self) -> PointExample:
        _check_text(self.answer, "answer", allow_empty=True)
        low, high = self.scale
        if self.score is not None and not low <= self.score <= high:
            raise ValueError(f"score {self.score} outside scale {self.scale}")
        return self


class Judgment(BaseModel):
    """One judge output, always in the ORIGINAL answer frame (a "ba" verdict is mapped back).
    A pointwise judgment has no verdict: `scores` holds its one score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: str
    judge: str = ""
    template: str = ""
    order: Literal["ab", "ba"] = "ab"
    raw: str | None = None
    verdict: Literal[0, 1, 2] | None = None
    probs: tuple[float, float, float] | None = Field(default=None, description="(p_tie, p1, p2)")
    scores: tuple[float, ...] | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    seconds: float | None = None
    error: str | None = None

    @field_validator("probs")
    @classmethod
    def _probs(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is not None and (any(p < 0 or p > 1 for p in v) or abs(sum(v) - 1) > 1e-3):
            raise ValueError(f"probs {v} are not a distribution over (tie, 1, 2)")
        return v

    @model_validator(mode="after")
    def _failure_has_reason(self) -> Judgment:
        if self.verdict is None and self.probs is None and self.scores is None and not self.error:
            raise ValueError("a judgment without a verdict or score must say why (error)")
        return self


@overload
def presented(example: PairExample, order: str) -> PairExample: ...
@overload
def presented(example: PointExample, order: str) -> PointExample: ...
def presented(example: PairExample | PointExample, order: str) -> PairExample | PointExample:
    """The example as a judge sees it in `order`: "ba" shows a pair's answers the other way round (its
    label mapped); a point has one answer and one order. The one place an example is swapped."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    return example if order == "ab" or isinstance(example, PointExample) else example.swapped()


@overload
def to_original(value: None, order: str) -> None: ...
@overload
def to_original(value: Verdict, order: str) -> Verdict: ...
@overload
def to_original(value: Shown, order: str) -> Shown: ...
def to_original(value: Any, order: str) -> Any:
    """A verdict (1 <-> 2; tie and None stay), a (p_tie, p1, p2) or a pair's (score1, score2)
    read from the `order` presentation, in the source's answer order. The one place an answer order is mapped back; it
    is its own inverse, so it also maps the source's order to a presentation."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if order == "ab" or value is None:
        return value
    if isinstance(value, numbers.Integral):  # numpy's ints too (Ray Data batches)
        # dict.get's stub wants an int key; a numpy int hashes and compares as one
        return {1: 2, 2: 1}.get(value, value)  # type: ignore[call-overload]
    if len(value) == 2:
        return (value[1], value[0])
    p_tie, p1, p2 = value
    return (p_tie, p2, p1)
