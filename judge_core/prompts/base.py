"""What every template family shares: the Template record, parse results, neutralisation, turns.

A template is two pure functions: render(example, order) -> chat messages, and
parse(text, quoted, strict) -> Parsed (a verdict in the PRESENTED order, or a failure reason). A
pointwise template (`pointwise=True`) renders a PointExample and parses a score instead of a verdict.

Two parse rules (docs/prompts.md, "Parsing"): by default a template reads its judge's output by its
source's published parser (`Template.rule` names it), or for ours by the last marker; `strict=True`
reads every marker and calls markers that disagree "ambiguous" (for untrusted answers). Both skip
markers inside quotes of the judged texts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from ..schema import PairExample, PointExample, Text, presented, to_original
from ..verdicts import Verdict
from .quotes import Spans, inside, quoted_spans, untrusted_texts

Messages = list[dict[str, str]]
ZWSP = "\u200b"

# Chat-format control strings: an answer must never be able to end its turn or open a new one. The
# judge's own tokenizer adds its special and added tokens (Template.render's `control`).
CHAT_CONTROL = (
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|python_tag|>",
    "<s>",
    "</s>",
    "<pad>",
    "<unk>",
    "<mask>",
    "<bos>",
    "<eos>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
    "<</SYS>>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|end|>",
    "<|endofprompt|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|begin▁of▁sentence|>",
    "<|end▁of▁sentence|>",  # DeepSeek, ASCII bars
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",  # DeepSeek
    "<｜User｜>",
    "<｜Assistant｜>",
    "<think>",
    "</think>",
    "[gMASK]",
    "<sop>",
    "<eop>",
    "<|observation|>",
)  # GLM


# Meta fields some templates render (PandaLM's separate instruction and input).
UNTRUSTED_META = ("instruction", "input")


@dataclass(frozen=True)
class Parsed:
    """A parse in the presented order: verdict 0/1/2 (pairwise) or scores (pointwise: one score),
    or None with the reason it failed."""

    verdict: Verdict | None
    reason: str | None = None
    scores: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.verdict is None and self.scores is None and not self.reason:
            raise ValueError("a failed parse needs a reason")


@dataclass(frozen=True)
class LabelSpec:
    """How label mode reads a verdict in one forward pass.

    The assistant turn is pre-filled with `prefix`; the verdict is the label whose `words[v]`
    (first token) has the highest probability at the next position. Verdicts are in presented order.
    A pointwise template's labels are its ratings ({5: "5"}); label mode gives the expected rating.
    `answer(v)` is the whole verdict text (prefix + word + suffix): what a generative judge is
    fine-tuned to write, and what the template's parser reads back as v.
    """

    prefix: str
    words: dict[int, str]
    suffix: str = ""

    def answer(self, verdict: int) -> str:
        return self.prefix + self.words[verdict] + self.suffix


@dataclass(frozen=True)
class Template:
    name: str
    build: Callable[[Any], Messages]  # messages for a PairExample (pointwise: PointExample) in presented order
    parse: Callable[
        ..., Parsed
    ]  # parse(text, quoted=[(start, end), ...], strict=False): markers inside a quote do not count
    markers: tuple[str, ...]  # delimiters and verdict markers untrusted text must not contain
    label: LabelSpec | None = None
    description: str = ""
    pointwise: bool = False  # renders a PointExample, parses a score
    written: dict[int, str] | None = None  # templates without label words: a verdict as the judge writes it
    rule: str = "the last marker outside quotes"  # the default parse rule, named (its source's parser where one exists)
    strict_differs: bool = True  # strict=True reads some outputs otherwise (False: a first-line parser, one rule)
    parse_default: Literal["source", "strict"] = (
        "source"  # the rule when the judge names none (a file template may say)
    )
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.label is None) == (self.written is None):
            raise ValueError(f"template {self.name}: give label words or written verdicts, one of the two")
        object.__setattr__(self, "_pattern", _breakable(tuple(self.markers)))

    @overload
    def neutralise(self, text: str, control: tuple[str, ...] = ()) -> str: ...
    @overload
    def neutralise(self, text: Text | None, control: tuple[str, ...] = ()) -> Text | None: ...
    def neutralise(self, text: Text | None, control: tuple[str, ...] = ()) -> Text | None:
        """Break every marker and control-string occurrence (`control`: the judge tokenizer's own
        special tokens) with a zero-width space, so the text reads the same to a person but cannot
        close a delimiter, forge a verdict marker or become a special token."""
        if isinstance(text, list):
            return [self.neutralise(t, control) for t in text]
        if text is None:
            return None
        pattern = _breakable(tuple(self.markers) + tuple(control)) if control else self._pattern
        return pattern.sub(lambda m: m.group(0)[0] + ZWSP + m.group(0)[1:], text)

    def render(self, example: PairExample | PointExample, order: str = "ab", control: tuple[str, ...] = ()) -> Messages:
        """Chat messages judging `example` with its answers presented in `order` ("ab" or "ba");
        `control`: extra strings to neutralise (the judge tokenizer's special tokens, control_strings)."""
        if self.pointwise != isinstance(example, PointExample):
            kind = "pointwise" if self.pointwise else "pairwise"
            raise ValueError(f"template {self.name} is {kind}; it cannot judge a {type(example).__name__}")
        shown = presented(example, order)
        answers = ("answer",) if self.pointwise else ("answer1", "answer2")

        def safe_text(text: Text | None) -> Text | None:
            return self.neutralise(text, control)

        safe = shown.model_copy(
            update={
                "question": safe_text(shown.question),
                "reference": safe_text(shown.reference),
                **{a: safe_text(getattr(shown, a)) for a in answers},
                "meta": {k: safe_text(v) if k in UNTRUSTED_META else v for k, v in shown.meta.items()},
            }
        )
        return self.build(safe)

    @property
    def verdicts(self) -> tuple[int, ...]:
        """The verdicts (pointwise: ratings) this template lets a judge give."""
        return tuple(self.label.words if self.label else self._written)

    def answer(self, verdict: int) -> str:
        """The shortest text a judge could write for `verdict` that the parser reads back as it
        (the label-mode words where there are some). The fake engine and tests write with it."""
        return self.label.answer(verdict) if self.label else self._written[verdict]

    @property
    def _written(self) -> dict[int, str]:
        assert self.written is not None  # __post_init__: a template without label words has written verdicts
        return self.written

    def strict(self, parse: str | None) -> bool:
        """Whether a judge asking for `parse` ("source", "strict" or None: this template's default)
        reads its outputs strictly."""
        return (parse or self.parse_default) == "strict"

    def parse_key(self, parse: str | None) -> dict[str, str]:
        """What a cell's hash adds for its parse rule: nothing where the rule is the strict one every
        judgment before the source rules was parsed by (their hashes stay), or where one rule is all."""
        return {"parse": "source"} if self.strict_differs and not self.strict(parse) else {}

    def verdict(
        self, text: str, order: str = "ab", example: PairExample | PointExample | None = None, strict: bool = False
    ) -> Parsed:
        """Parse `text` produced for the `order` presentation; the verdict comes back in the
        ORIGINAL answer frame (scores too). With the judged `example`, spans of the text that quote
        its question, answers or reference are found first: a marker inside them is not the judge's.
        `strict`: markers that disagree are "ambiguous" instead of read by the template's rule."""
        quoted = quoted_spans(text, untrusted_texts(example)) if example is not None else []
        parsed = self.parse(text, quoted, strict=strict)
        scores = parsed.scores if self.pointwise else to_original(parsed.scores, order)
        return Parsed(to_original(parsed.verdict, order), parsed.reason, scores)


@functools.lru_cache(maxsize=64)
def _breakable(markers: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive pattern for the markers and every chat-control string, longest first."""
    strings = sorted(set(markers) | set(CHAT_CONTROL), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, (s for s in strings if s))), re.I)


def control_strings(tok: object) -> tuple[str, ...]:
    """A tokenizer's special tokens and its added tokens that are not plain words (an added token
    is matched whole before BPE, so text holding one would become that token id)."""
    added = [t.content if hasattr(t, "content") else str(t) for t in getattr(tok, "added_tokens_decoder", {}).values()]
    strings = list(getattr(tok, "all_special_tokens", [])) + added
    return tuple(sorted({s for s in strings if len(s.strip()) > 1 and not s.strip().replace("_", "").isalnum()}))


def marked_verdict(
    pattern: re.Pattern,
    text: str,
    read: Callable[[re.Match], Parsed],
    missing: str,
    quoted: Spans = (),
    rule: Literal["last", "first", "agree"] = "last",
) -> Parsed:
    """The verdict of the markers `pattern` finds in `text` outside the quoted spans; none is a
    failure (`missing`). `rule`: the last marker (a judge concludes last, and corrects itself before
    it does), the first (a source parser that reads the first), or "agree" (strict: markers that
    disagree are a failure, "ambiguous", never a guess between the judge and an answer it quoted)."""

    found = [(m, read(m)) for m in own_matches(pattern, text, quoted)]
    if not found:
        return Parsed(None, missing)
    if rule == "first":
        return found[0][1]
    distinct = {(p.verdict, p.scores, p.reason) for _, p in found}
    if rule == "agree" and len(distinct) > 1:
        return Parsed(None, "ambiguous: " + ", ".join(dict.fromkeys(repr(m.group(0).strip()[:30]) for m, _ in found)))
    return found[-1][1]


def own_matches(pattern: re.Pattern, text: str, quoted: Spans = ()) -> list[re.Match]:
    """The matches of `pattern` the judge wrote: each marker (without the line break a pattern may start
    with) not wholly inside a quoted span."""

    def own(m: re.Match) -> bool:
        return not inside(m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end(), quoted)

    return [m for m in pattern.finditer(text) if own(m)]


RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")  # "[[7]]", "[[ 7.5 ]]": a pointwise judge's rating


def last_match(pattern: re.Pattern, text: str) -> re.Match | None:
    """The LAST match: judges reason first and conclude last."""
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def question_text(example: PairExample | PointExample) -> str:
    """The question slot: the text, or every user turn numbered for a multi-turn conversation."""
    if isinstance(example.question, str):
        return example.question
    n = len(example.question)
    head = f"(A conversation of {n} turns; each answer gives the assistant's reply to every turn.)"
    return "\n\n".join([head] + [f"[User turn {i}]\n{q}" for i, q in enumerate(example.question, 1)])


def answer_text(answer: Text) -> str:
    """An answer slot: the text, or every assistant turn numbered."""
    if isinstance(answer, str):
        return answer
    return "\n\n".join(f"[Assistant turn {i}]\n{a}" for i, a in enumerate(answer, 1))


def reference_text(example: PairExample | PointExample) -> str | None:
    ref = example.reference
    return ref if ref is None or isinstance(ref, str) else answer_text(ref)


def reference_conversation(example: PairExample | PointExample) -> str:
    """MT-Bench's multi-turn reference block (pair-math-v1-multi-turn, single-math-v1-multi-turn): every
    user turn with its reference answer; one reference string stands for every turn."""
    refs = example.reference if isinstance(example.reference, list) else [example.reference] * len(example.question)
    turns = "".join(f"### User:\n{q}\n\n### Reference answer:\n{r}\n\n" for q, r in zip(example.question, refs))
    return f"<|The Start of Reference Answer|>\n\n{turns}<|The End of Reference Answer|>\n\n\n"


def conversation_block(example: PairExample | PointExample, name: str, answers: list[str]) -> str:
    """FastChat's multi-turn block: every user turn with assistant `name`'s answer to it."""
    turns = "".join(f"### User:\n{q}\n\n### Assistant {name}:\n{a}\n\n" for q, a in zip(example.question, answers))
    return (
        f"<|The Start of Assistant {name}'s Conversation with User|>\n\n{turns}"
        f"<|The End of Assistant {name}'s Conversation with User|>"
    )


def multi_turn_messages(example: PairExample | PointExample, body: str, system: str, system_math: str) -> Messages:
    """FastChat's multi-turn judge messages (pair and single alike): the system prompt names the turn
    to judge ("second" of two, else "last"); with a reference, the math prompt and the reference
    conversation before the body."""
    which = "second" if len(example.question) == 2 else "last"
    if example.reference is None:
        return [{"role": "system", "content": system.format(which=which)}, {"role": "user", "content": body}]
    return [
        {"role": "system", "content": system_math.format(which=which)},
        {"role": "user", "content": reference_conversation(example) + body},
    ]
