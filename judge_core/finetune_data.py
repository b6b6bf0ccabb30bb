"""Training data for judges, rendered with the same templates as evaluation (pure; no torch).

    from judge_core.finetune_data import build_training_set
    train, val, report = build_training_set(["train-llmeval2", "train-ultrafeedback"], val_fraction=0.05)

Sources are loaded with their documented filters, decontaminated against every benchmark present,
split by a hash of the uid (so a pair and its swapped copy never straddle the split) and then
augmented (JudgeLM's swap augmentation and reference drop) on the training side only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import cast

from . import prompts
from .data import LoadReport, decontaminate, load
from .data._io import DataRoot
from .schema import PairExample, presented


def uid_fraction(uid: str, seed: int) -> float:
    """A stable number in [0, 1) for a uid (same on every machine and Python version)."""
    digest = hashlib.sha256(f"{seed}/{uid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_uid(examples: Sequence, val_fraction: float, seed: int = 0) -> tuple[list, list]:
    """(train, val): an example is in val iff uid_fraction(uid) < val_fraction."""
    train: list = []
    val: list = []
    for ex in examples:
        (val if uid_fraction(ex.uid, seed) < val_fraction else train).append(ex)
    return train, val


def swap_augment(examples: Sequence[PairExample]) -> list[PairExample]:
    """JudgeLM's swap augmentation: every pair in both orders (label mapped, meta.swapped set)."""
    out = []
    for ex in examples:
        out.append(ex)
        out.append(presented(ex, "ba").model_copy(update={"meta": ex.meta | {"swapped": True}}))
    return out


def drop_reference(examples: Sequence[PairExample], fraction: float, seed: int = 0) -> list[PairExample]:
    """JudgeLM's reference drop: remove the reference answer from `fraction` of the examples
    (chosen by uid hash, so both orders of a pair lose it together)."""
    return [
        ex.model_copy(update={"reference": None})
        if ex.reference is not None and uid_fraction("ref/" + ex.uid, seed) < fraction
        else ex
        for ex in examples
    ]


def build_training_set(
    sources: Sequence[str],
    val_fraction: float = 0.05,
    seed: int = 0,
    root: DataRoot = None,
    swap: bool = True,
    reference_drop: float = 0.0,
    clean: bool = True,
    limit_per_source: int | None = None,
) -> tuple[list, list, LoadReport]:
    """Load, filter, decontaminate (`clean`), split and augment training pairs.

    `limit_per_source` keeps a deterministic uid-hash sample of each source (for quick runs).
    Unlabelled rows are dropped and counted.
    """
    report = LoadReport()
    pairs = []
    for spec in sources:  # "name" (every subset) or "name/subset"
        name, _, subset = spec.partition("/")
        examples, rep = load(name, subset or None, root=root)
        report.skipped += rep.skipped
        for why, n in rep.filtered.items():
            report.filtered[f"{name}: {why}"] = report.filtered.get(f"{name}: {why}", 0) + n
        examples = [ex for ex in examples if isinstance(ex, PairExample)]
        if limit_per_source is not None:
            # salted differently from the split, or the sample would be the split's val side
            examples = sorted(examples, key=lambda ex: uid_fraction("sample/" + ex.uid, seed))[:limit_per_source]
        for ex in examples:
            if ex.label is None:
                report.filter_out(f"{name}: unlabelled")
            else:
                pairs.append(ex)
    if clean:
        pairs = decontaminate(pairs, root, report)
    train, val = split_by_uid(pairs, val_fraction, seed)
    train = drop_reference(train, reference_drop, seed)
    return (swap_augment(train) if swap else train), val, report


# ---- what the model sees -------------------------------------------------------------------------
def generative_sample(example: PairExample, template: str, order: str = "ab") -> dict:
    """Chat messages and the target verdict text (loss is taken on the target only)."""
    tpl = prompts.get(template)
    if tpl.label is None:
        raise ValueError(
            f"template {template!r} has no single verdict text to train on; use one of "
            f"{[n for n, t in prompts.TEMPLATES.items() if t.label]}"
        )
    shown = presented(example, order)
    label = cast(int, shown.label)  # a training pair is labelled (build_training_set drops the rest)
    return {"messages": tpl.render(example, order), "target": tpl.label.answer(label)}


def label_in_order(example: PairExample, order: str) -> int:
    return cast(int, presented(example, order).label)  # a training pair is labelled
