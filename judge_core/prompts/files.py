"""Templates from YAML files or inline mappings: a user's own prompt and rubric, with every guarantee of
the built-in templates.

    name = load("configs/templates/prometheus-absolute.yaml")      # checked, then registered
    get(name).render(point_example)                                 # as any template
    load({"path": "configs/templates/prometheus-absolute.yaml", "name": "prom-harmless", "rubric": {...}})

A file gives its system and user text with placeholders ({question}, {answer1} and {answer2} or
{answer}, {reference}, {rubric}, {criteria}: the rubric's first line), how the judge writes a verdict
(`answer`: prefix + word + suffix; label mode pre-fills the prefix and reads the words' tokens) and the
`output` pattern generate mode reads it with (one group: the verdict word, or the rating). Refused at
load, with the reason: a placeholder that does not exist or is missing, verdict words that are the same
text, a pattern that does not compile or does not read the template's own answers back. Rendering
neutralises the template's delimiters (the lines around each placeholder, the answer prefix and its
`markers`) in the judged texts; parsing skips quotes of them; truncation cuts only the judged texts.

A rubric comes from the example (meta "rubric": a dataset's rubric column), else from the template (or
the sweep's mapping that overrides it). Structured, it is Prometheus's SCORE_RUBRIC_TEMPLATE:
"[criteria]" then "Score k: description" per score.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..schema import PairExample, PointExample
from ..verdicts import Verdict
from .base import LabelSpec, Parsed, Template, answer_text, marked_verdict, question_text, reference_text
from .quotes import Spans

PLACEHOLDERS = {
    "pairwise": ("question", "answer1", "answer2", "reference", "rubric", "criteria"),
    "pointwise": ("question", "answer", "reference", "rubric", "criteria"),
}
REQUIRED = {"pairwise": ("question", "answer1", "answer2"), "pointwise": ("question", "answer")}


class Rubric(BaseModel):
    """Prometheus's score rubric: a criterion and a description per score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    criteria: str = Field(min_length=1)
    scores: dict[int, str] = Field(default_factory=dict, description="score -> what earns it")

    def text(self) -> str:
        return "\n".join([f"[{self.criteria}]"] + [f"Score {k}: {d}" for k, d in sorted(self.scores.items())])


class AnswerFormat(BaseModel):
    """A verdict as the judge writes it: prefix + word + suffix ("[RESULT] " + "4")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str = ""
    suffix: str = ""


class TemplateFile(BaseModel):
    """What a template file (or a sweep's inline mapping) holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$", description="its name in results and reports")
    kind: Literal["pairwise", "pointwise"]
    description: str = ""
    source: str = Field("", description="where its text comes from")
    system: str | None = None
    user: str = Field(min_length=1)
    user_without_reference: str | None = Field(None, description="the user text for examples without a reference")
    rubric: str | Rubric | None = Field(None, description="the default rubric; an example's meta 'rubric' wins")
    verdicts: dict[int, str] | None = Field(None, description="pairwise: verdict (1, 2, 0 = tie) -> its word")
    scale: tuple[int, int] | None = Field(None, description="pointwise: the lowest and highest rating")
    answer: AnswerFormat = Field(default_factory=AnswerFormat)
    output: str = Field(description="regex with one group: the verdict word or the rating")
    pick: Literal["last", "first"] = Field("last", description="which match is the verdict by default")
    rule: str = Field("", description="names the default parse rule (its source's parser)")
    parse: Literal["source", "strict"] = "source"
    markers: list[str] = Field(default_factory=list, description="more delimiters an answer must not forge")

    @model_validator(mode="after")
    def _check(self) -> TemplateFile:
        pairwise = self.kind == "pairwise"
        if pairwise and (self.verdicts is None or self.scale is not None):
            raise ValueError("a pairwise template gives verdicts ({1: word, 2: word, 0: tie word}), not a scale")
        if not pairwise and (self.scale is None or self.verdicts is not None):
            raise ValueError("a pointwise template gives a scale [low, high], not verdicts")
        if self.verdicts is not None and not ({1, 2} <= set(self.verdicts) <= {0, 1, 2}):
            raise ValueError(f"verdicts must name 1 and 2 (0, a tie, may be added): {sorted(self.verdicts)}")
        if self.scale is not None and not self.scale[0] < self.scale[1]:
            raise ValueError(f"scale {list(self.scale)} must go from low to high")
        self._check_placeholders()
        self._check_words()
        self._check_output()
        return self

    @property
    def words(self) -> dict[int, str]:
        if self.verdicts is not None:
            return dict(self.verdicts)
        assert self.scale is not None  # _check: a pointwise template has a scale
        return {k: str(k) for k in range(self.scale[0], self.scale[1] + 1)}

    def texts(self) -> dict[str, str]:
        named = {"system": self.system, "user": self.user, "user_without_reference": self.user_without_reference}
        return {k: v for k, v in named.items() if v is not None}

    def _check_placeholders(self) -> None:
        known = PLACEHOLDERS[self.kind]
        for where, text in self.texts().items():
            try:
                used = _fields(text)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc} (write a literal brace as {{{{ or }}}})") from None
            unknown = used - set(known)
            if unknown:
                raise ValueError(
                    f"{where} has placeholder(s) {sorted(unknown)} that do not exist; a {self.kind} template "
                    f"knows {', '.join('{' + k + '}' for k in known)}"
                )
            if where == "user_without_reference" and "reference" in used:
                raise ValueError("user_without_reference uses {reference}")
        every = set().union(*(_fields(t) for k, t in self.texts().items() if k != "user_without_reference"))
        missing = [f for f in REQUIRED[self.kind] if f not in every]
        if missing:
            raise ValueError(f"the template never shows {', '.join('{' + m + '}' for m in missing)}")

    def _check_words(self) -> None:
        seen: dict[str, int] = {}
        for verdict, word in self.words.items():
            key = word.strip().lower()
            if not key:
                raise ValueError(f"the word of verdict {verdict} is empty")
            if key in seen:
                raise ValueError(
                    f"label words {self.words[seen[key]]!r} (verdict {seen[key]}) and {word!r} (verdict {verdict}) "
                    "tokenize the same: a judge could not tell them apart"
                )
            seen[key] = verdict

    def _check_output(self) -> None:
        try:
            pattern = re.compile(self.output)
        except re.error as exc:
            raise ValueError(f"output pattern {self.output!r} does not compile: {exc}") from None
        if pattern.groups != 1:
            raise ValueError(
                f"output pattern {self.output!r} needs exactly one group (the verdict); it has {pattern.groups}"
            )
        for verdict, word in self.words.items():  # the parse test that reads the template's own answers back
            written = self.answer.prefix + word + self.answer.suffix
            got = _read(self, pattern, written, (), "agree")
            value = got.scores[0] if got.scores else got.verdict
            if value != verdict:
                raise ValueError(
                    f"output pattern {self.output!r} cannot read the template's own answer {written!r} "
                    f"as {verdict}: {got.reason or value}"
                )


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def _read(
    spec: TemplateFile, pattern: re.Pattern, text: str, quoted: Spans, rule: Literal["last", "first", "agree"]
) -> Parsed:
    """The verdict (pointwise: the rating) of `text` by `rule` ("last", "first" or "agree")."""
    words = {w.strip().lower(): v for v, w in spec.words.items()}

    def value(m: re.Match) -> Parsed:
        got = m.group(1).strip()
        if spec.kind == "pairwise":
            verdict = words.get(got.lower())
            if verdict is None:
                return Parsed(None, f"{got[:30]!r} is no verdict word")
            return Parsed(cast(Verdict, verdict))  # TemplateFile._check: pairwise verdicts are 0, 1 and 2
        assert spec.scale is not None
        try:
            rating = float(got)
        except ValueError:
            return Parsed(None, f"rating {got[:30]!r} is not a number")
        if not spec.scale[0] <= rating <= spec.scale[1]:
            return Parsed(None, f"rating {got} is off the {spec.scale[0]}-{spec.scale[1]} scale")
        return Parsed(None, scores=(rating,))

    example = spec.answer.prefix + next(iter(spec.words.values())) + spec.answer.suffix
    return marked_verdict(
        pattern, text, value, f"no verdict like {example!r} (the output pattern matched nothing)", quoted, rule
    )


def _delimiters(spec: TemplateFile) -> tuple[str, ...]:
    """The nearest lines around each placeholder (the headers an answer would forge to close its section), the
    answer prefix and the file's markers."""
    found = [m.strip() for m in spec.markers] + [spec.answer.prefix.strip()]
    for text in spec.texts().values():
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if _fields(line):
                before = [x for x in lines[:i] if x.strip()][-1:]
                after = [x for x in lines[i + 1 :] if x.strip()][:1]
                found += [near.strip() for near in before + after if not _fields(near)]
                found += [part.strip() for part in re.split(r"\{[a-z0-9]+\}", line) if len(part.strip()) >= 3]
    return tuple(dict.fromkeys(m for m in found if len(m) >= 2))


def _rubric_text(rubric: Any) -> str | None:
    if rubric is None or isinstance(rubric, str):
        return rubric
    return (rubric if isinstance(rubric, Rubric) else Rubric.model_validate(rubric)).text()


def build_template(spec: TemplateFile) -> Template:
    """The Template a file describes."""
    pattern = re.compile(spec.output)

    def build(ex: PairExample | PointExample) -> list[dict]:
        rubric = _rubric_text(ex.meta.get("rubric")) or _rubric_text(spec.rubric)
        ref = reference_text(ex)
        user = spec.user if ref is not None or spec.user_without_reference is None else spec.user_without_reference
        needs = _fields(user) | _fields(spec.system or "")
        if "reference" in needs and ref is None:
            raise ValueError(
                f"template {spec.name} shows a reference; this example has none (add user_without_reference)"
            )
        if needs & {"rubric", "criteria"} and not rubric:
            raise ValueError(
                f"template {spec.name} shows a rubric; give one in the template, the sweep or a rubric column"
            )
        fields = {
            "question": question_text(ex),
            "reference": ref or "",
            "rubric": rubric or "",
            "criteria": (rubric or "").split("\n")[0],
        }
        if isinstance(ex, PairExample):
            fields |= {"answer1": answer_text(ex.answer1), "answer2": answer_text(ex.answer2)}
        else:
            fields["answer"] = answer_text(ex.answer)
        messages = [{"role": "system", "content": spec.system.format(**fields)}] if spec.system else []
        return messages + [{"role": "user", "content": user.format(**fields)}]

    def parse(text: str, quoted: Spans = (), strict: bool = False) -> Parsed:
        return _read(spec, pattern, text, quoted, "agree" if strict else spec.pick)

    return Template(
        name=spec.name,
        build=build,
        parse=parse,
        markers=_delimiters(spec),
        label=LabelSpec(prefix=spec.answer.prefix, words=spec.words, suffix=spec.answer.suffix),
        description=spec.description or f"{spec.kind} template from a file",
        pointwise=spec.kind == "pointwise",
        rule=spec.rule or f"the {spec.pick} match of {spec.output!r} outside quotes",
        parse_default=spec.parse,
    )


def definition(ref: str | dict) -> TemplateFile:
    """A template file's checked content: `ref` is a path, or a mapping (inline, or {path: ..., and
    fields that override the file's}). A bad template raises ValueError naming where and why."""
    where = ref if isinstance(ref, str) else ref.get("path", "an inline template")
    data: dict = {}
    path = ref if isinstance(ref, str) else ref.get("path")
    if path is not None:
        import yaml  # heavy: out of judge_core's import (`judge score` stays light)

        if not Path(path).is_file():
            raise ValueError(f"template file {path} does not exist")
        data = yaml.safe_load(Path(path).read_text()) or {}
    if isinstance(ref, dict):
        data = data | {k: v for k, v in ref.items() if k != "path"}
    try:
        return TemplateFile.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"template {where}: {reasons}") from None


__all__ = ["Rubric", "TemplateFile", "build_template", "definition"]
