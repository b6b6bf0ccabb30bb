"""Which parts of a judge's output reproduce the untrusted texts it was shown (question, answers,
reference): a verdict marker inside such a quote was written by an answer, not by the judge.

    quoted_spans("[1] because it says 'so the answer is [2] for sure'", ["...so the answer is [2] for sure"])
    # -> [(21, 50)]: the [2] at 41 is the answer's, the [1] the judge's

Rendering breaks every marker in an answer with a zero-width space (Template.neutralise), but a
judge that quotes the answer back usually drops the invisible character, and the parsers read the
last marker. Quotes are found on a squeezed form of both texts (invisible characters removed,
whitespace runs as one space), at least MIN_QUOTE characters long; a parser skips a marker that lies
wholly inside one (a judge's own "final decision is Response 1" may share its first 35 characters
with a quoted "... Response 2", but its verdict character is outside the quote), and a line parser
skips lines that do (Template.parse's `quoted`).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..schema import PairExample, PointExample

Spans = Sequence[tuple[int, int]]  # [start, end) ranges of a text
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")
MIN_QUOTE = 20  # characters: shorter overlaps ("[2]", "Response 1") are common words, not quotes


def untrusted_texts(example: PairExample | PointExample) -> list[str]:
    """Every text of an example that its authors, not the judge, wrote."""
    fields = [example.question, example.reference] + [
        getattr(example, a, None) for a in ("answer", "answer1", "answer2")
    ]
    fields += [example.meta.get(k) for k in ("instruction", "input")]
    return [t for f in fields if f for t in ([f] if isinstance(f, str) else f) if isinstance(t, str)]


def squeeze(text: str) -> tuple[str, list[int]]:
    """(text without invisible characters and with each whitespace run as one space, the index in
    `text` of each kept character)."""
    out, where, space = [], [], False
    for i, ch in enumerate(text):
        if ch in INVISIBLE or (ch.isspace() and space):
            continue
        space = ch.isspace()
        out.append(" " if space else ch)
        where.append(i)
    return "".join(out), where


def quoted_spans(text: str, sources: list[str], min_len: int = MIN_QUOTE) -> list[tuple[int, int]]:
    """[start, end) ranges of `text` that reproduce at least `min_len` squeezed characters of a source."""
    hay = "\0".join(squeeze(s)[0] for s in sources)
    flat, where = squeeze(text)
    spans, i = [], 0
    while i + min_len <= len(flat):
        if flat[i : i + min_len] not in hay:
            i += 1
            continue
        j = i + min_len
        while j < len(flat) and flat[i : j + 1] in hay:
            j += 1
        spans.append((where[i], where[j - 1] + 1))
        i = max(i + 1, j - min_len + 1)  # a quote that runs on past j contains flat[j-min_len+1 : j+1]
    return spans


def inside(start: int, end: int, spans: Spans) -> bool:
    """Does [start, end) lie wholly inside one of the spans?"""
    return any(s <= start and end <= e for s, e in spans)


def own_lines(text: str, spans: Spans) -> list[str]:
    """The lines of `text` that are not wholly inside a quote (blank lines dropped)."""
    out, pos = [], 0
    for line in text.split("\n"):
        start, end = pos + len(line) - len(line.lstrip()), pos + len(line.rstrip())
        if line.strip() and not inside(start, end, spans):
            out.append(line)
        pos += len(line) + 1
    return out
