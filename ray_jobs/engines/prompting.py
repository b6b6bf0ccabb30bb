"""Token-level prompt building shared by the hf and vllm engines: chat template, truncation, labels.

Truncation rule (documented in docs/engines.md): when the rendered prompt is longer than the engine's
budget (context length minus the tokens the answer needs), the question, both answers (the one
answer of a pointwise example) and the reference are cut, each keeping its beginning, to shares set
by judge_core.truncation (short texts keep everything; long ones share the rest equally), each cut
text ending in "…".
The template's instructions are never cut, so the judge always sees the question, both answers and
what to answer. A conversation that has to be cut is flattened to numbered turns.
"""

from __future__ import annotations

import math

from judge_core import prompts
from judge_core.pipeline import example_of
from judge_core.prompts.base import answer_text, control_strings, question_text
from judge_core.schema import PairExample, PointExample
from judge_core.truncation import fit_segments

from .base import failed

ELLIPSIS = "…"


def chat_text(messages: list[dict], tok) -> str:
    """The prompt string with the model's chat template (the template writes any bos itself)."""
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return (tok.bos_token or "") + "\n\n".join(m["content"] for m in messages) + "\n"


def _control(tok) -> tuple[str, ...]:
    """The tokenizer's special and added tokens, computed once per tokenizer: an answer holding one
    must not become that token in the prompt."""
    if not hasattr(tok, "_judge_control"):
        tok._judge_control = control_strings(tok)
    return tok._judge_control


def _count(text: str, tok) -> int:
    return len(tok.encode(text, add_special_tokens=False))


def _answers(example) -> tuple[str, ...]:
    return ("answer",) if isinstance(example, PointExample) else ("answer1", "answer2")


def _cut(example: PairExample | PointExample, tok, budget: int):
    names = _answers(example)
    texts = [question_text(example)] + [answer_text(getattr(example, a)) for a in names]
    if example.reference is not None:
        texts.append(answer_text(example.reference))
    ids = [tok.encode(t, add_special_tokens=False) for t in texts]
    cut = [tok.decode(c) + (ELLIPSIS if len(c) < len(full) else "") for c, full in zip(fit_segments(ids, budget), ids)]
    return example.model_copy(
        update={
            "question": cut[0] or ELLIPSIS,
            **dict(zip(names, cut[1:])),
            "reference": cut[-1] if example.reference is not None else None,
        }
    )


def fit_prompt(
    example: PairExample | PointExample, order: str, template: str, tok, budget: int, suffix: str = ""
) -> tuple[str, bool]:
    """(prompt text, truncated?) of at most `budget` tokens; `suffix` (a label-mode pre-fill) is kept."""
    tpl, control = prompts.get(template), _control(tok)
    text = chat_text(tpl.render(example, order, control), tok) + suffix
    n = _count(text, tok)
    if n <= budget:
        return text, False
    empty = example.model_copy(
        update={
            "question": "x",
            **dict.fromkeys(_answers(example), ""),
            "reference": None if example.reference is None else "",
        }
    )
    overhead = _count(chat_text(tpl.render(empty, order, control), tok) + suffix, tok) + 8
    room = budget - overhead
    if room < 16:
        raise ValueError(
            f"template {template!r} alone takes {overhead} tokens; a budget of {budget} "
            "leaves no room for the question and answers"
        )
    for _ in range(4):  # decode/encode and neutralisation can shift a few tokens: shrink until it fits
        text = chat_text(tpl.render(_cut(example, tok, room), order, control), tok) + suffix
        n = _count(text, tok)
        if n <= budget:
            return text, True
        room -= n - budget + 8
    raise ValueError(f"could not fit the prompt into {budget} tokens")


def label_ids(text: str, spec: prompts.LabelSpec, tok) -> tuple[list[int], dict[int, int], dict[int, list[int]]]:
    """(prompt ids, {label: first token}, {label: tokens read after the first}) for label mode.

    `text` ends with the label pre-fill. Each label's continuation is tokenized; the prompt is their
    common prefix and each label is read at the first token where they differ, so a tokenizer that
    merges the pre-fill with the label word ("[1" as one token) is handled exactly. Labels may share
    a first token. When one of them ends there ("1" and "10" with a tokenizer that splits digits),
    the others are read one token further. When none does (Auto-J's "Response 1" and "Response 2",
    split " Response", " ", "1"), they are read along their shared tokens to the one where they part.
    See label_logprobs.
    """
    seqs = {v: tok.encode(text + word, add_special_tokens=False) for v, word in spec.words.items()}
    first = next(iter(seqs.values()))
    common = min(len(s) for s in seqs.values()) - 1  # every label keeps at least one token
    for i in range(common):
        if any(s[i] != first[i] for s in seqs.values()):
            common = i
            break
    tokens = {v: s[common] for v, s in seqs.items()} if common >= 0 else {}
    if not tokens:
        raise ValueError(
            f"label words {list(spec.words.values())} do not start with distinct tokens for this tokenizer"
        )
    follow: dict[int, list[int]] = {}
    for t in set(tokens.values()):
        group = {v: seqs[v][common + 1 :] for v in tokens if tokens[v] == t}
        if len(group) > 1:
            follow |= _paths(group, spec)
    return first[:common], tokens, follow


def _paths(rests: dict[int, list[int]], spec) -> dict[int, list[int]]:
    """{label: tokens after the shared first one, up to the one that tells it apart} for labels
    sharing a first token (`rests`: each label's tokens after it); the stem (no tokens left) reads none."""
    stems = [v for v, r in rests.items() if not r]
    goes = {v: r for v, r in rests.items() if r}
    part = (
        0
        if stems
        else next((j for j in range(min(map(len, goes.values()))) if len({r[j] for r in goes.values()}) > 1), None)
    )
    if (
        len(stems) > 1
        or part is None
        or len({r[part] for r in goes.values()}) != len(goes)
        or len({tuple(r[:part]) for r in goes.values()}) > 1
    ):
        raise ValueError(
            f"label words {list(spec.words.values())} do not start with distinct tokens for this tokenizer"
        )
    return {v: r[: part + 1] for v, r in goes.items()}


def label_logprobs(prep: dict, first: dict[int, float], second: dict[int, float]) -> dict[int, float]:
    """{label: log-probability} from the log-probabilities of the first tokens ({token: logprob}) and,
    for labels read further, of their following tokens given the first ({label: logprob}, full-vocabulary).
    With "1" and "10" sharing the token "1": p(10) = p("1") p("0" | "1"), p(1) = p("1") (1 - p("0" | "1"));
    with "Response 1" and "Response 2": p(Response 1) = p(" Response") p(" " | " Response") p("1" | " Response ")."""

    out = {}
    for v, t in prep["labels"].items():
        out[v] = first[t]
        if v in prep["follow"]:
            out[v] += second[v]
        elif any(prep["labels"][w] == t for w in prep["follow"]):  # the stem of a shared token
            rest = sum(math.exp(second[w]) for w in prep["follow"] if prep["labels"][w] == t)
            out[v] += math.log(max(1.0 - rest, 1e-30))
    return out


def label_probs(logprobs: dict[int, float]) -> tuple[float, float, float]:
    """(p_tie, p1, p2) from {verdict: log-probability}, renormalised over the labels offered."""
    dist = _softmax(logprobs)
    return tuple(dist.get(v, 0.0) for v in (0, 1, 2))


def _softmax(logprobs: dict[int, float]) -> dict[int, float]:

    top = max(logprobs.values())
    weights = {v: math.exp(lp - top) for v, lp in logprobs.items()}
    total = sum(weights.values())
    return {v: w / total for v, w in weights.items()}


def label_output(logprobs: dict[int, float], template: str) -> dict:
    """An engine output from label log-probabilities: {"probs": (p_tie, p1, p2)} for a pairwise
    template; {"score": expected rating} for a pointwise one (its labels are the ratings)."""
    if prompts.get(template).pointwise:
        return {"score": sum(v * p for v, p in _softmax(logprobs).items())}
    return {"probs": label_probs(logprobs)}


def prepare_rows(rows: list[dict], template: str, mode: str, tok, max_len: int, max_new: int) -> tuple[dict, list]:
    """({row index: prepare() result}, outputs): a row whose prompt cannot be built gets its failure
    in outputs and stays out of the model call; the other outputs are None, to be filled."""

    preps, outs = {}, [None] * len(rows)
    for i, row in enumerate(rows):
        try:
            preps[i] = prepare(row, template, mode, tok, max_len, max_new)
        except Exception as exc:  # noqa: BLE001 - a row that cannot be prompted fails alone
            outs[i] = failed(f"prompt: {type(exc).__name__}: {exc}"[:500])
    return preps, outs


def prepare(row: dict, template: str, mode: str, tok, max_len: int, max_new: int) -> dict:
    """Prompt token ids of one row for a local engine: {ids, truncated} and in label mode labels
    ({label: first token}) and follow ({label: tokens read after the first}, see label_ids). Label mode
    pre-fills the template's label prefix and leaves room for its longest label word plus one token."""

    tpl = prompts.get(template)
    if mode == "label":
        if tpl.label is None:
            raise ValueError(f"template {template!r} has no label words: use mode generate")
        room = 1 + max(len(tok.encode(w, add_special_tokens=False)) for w in tpl.label.words.values())
        text, cut = fit_prompt(example_of(row), row["order"], template, tok, max_len - room, tpl.label.prefix)
        ids, tokens, follow = label_ids(text, tpl.label, tok)
        return {"ids": ids, "labels": tokens, "follow": follow, "truncated": cut}
    text, cut = fit_prompt(example_of(row), row["order"], template, tok, max_len - max_new)
    return {"ids": tok.encode(text, add_special_tokens=False), "truncated": cut}


def conversation_ids(messages: list[dict], tok, max_len: int, max_new: int) -> list[int]:
    """Token ids of a conversation to answer (judge compare's answer generation) with the chat template;
    a conversation longer than the context minus the answer's room is an error, never cut silently:
    cutting a question changes what is asked."""
    ids = tok.encode(chat_text(messages, tok), add_special_tokens=False)
    if len(ids) > max_len - max_new:
        raise ValueError(f"conversation of {len(ids)} tokens leaves no room for {max_new} new tokens in {max_len}")
    return ids
