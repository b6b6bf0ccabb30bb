"""Training-data builders: split, augmentation, targets and the segment budget."""

from collections import Counter

import pytest

from judge_core import prompts
from judge_core.finetune_data import (
    build_training_set,
    drop_reference,
    generative_sample,
    split_by_uid,
    swap_augment,
    uid_fraction,
)
from judge_core.schema import PairExample
from judge_core.truncation import allocate, fit_segments, pair_segments


def ex(i, label=1, reference=None):
    return PairExample(
        benchmark="t",
        subset="s",
        index=i,
        question=f"q{i}",
        answer1=f"a{i}",
        answer2=f"b{i}",
        label=label,
        reference=reference,
    )


def test_uid_fraction_is_stable():
    assert uid_fraction("t/s/0", 0) == 0.844781254107572  # fixed by sha256("0/t/s/0"): splits never move
    assert uid_fraction("t/s/0", 0) == uid_fraction("t/s/0", 0) != uid_fraction("t/s/0", 1)
    assert 0 <= uid_fraction("x", 3) < 1


def test_split_is_deterministic_and_disjoint():
    data = [ex(i) for i in range(1000)]
    train, val = split_by_uid(data, 0.1, seed=0)
    assert len(train) + len(val) == 1000 and 60 < len(val) < 140
    assert {e.uid for e in train}.isdisjoint({e.uid for e in val})
    assert split_by_uid(data, 0.1, seed=0) == (train, val)


def test_swap_augment_maps_labels():
    out = swap_augment([ex(0, 1), ex(1, 0)])
    assert [(e.answer1, e.label, e.meta.get("swapped", False)) for e in out] == [
        ("a0", 1, False),
        ("b0", 2, True),
        ("a1", 0, False),
        ("b1", 0, True),
    ]


def test_reference_drop_fraction_and_pairs_together():
    data = swap_augment([ex(i, reference="r") for i in range(400)])
    dropped = drop_reference(data, 0.25, seed=0)
    lost = [e.uid for e in dropped if e.reference is None]
    assert 70 * 2 < len(lost) < 130 * 2
    assert all(c == 2 for c in Counter(lost).values())  # both orders of a pair together


def test_generative_target_parses_back_in_both_orders():
    pair = ex(0, label=1)
    for name in ("label", "mtbench-pair", "llmbar", "pandalm", "autoj"):
        for order in ("ab", "ba"):
            sample = generative_sample(pair, name, order)
            assert prompts.get(name).verdict(sample["target"], order).verdict == 1
    assert generative_sample(pair, "label", "ba")["target"] == "[2]"
    assert generative_sample(pair, "autoj", "ba")["target"] == "So, the final decision is Response 2"
    with pytest.raises(ValueError, match="no single verdict text"):
        generative_sample(pair, "judgelm")


@pytest.mark.parametrize(
    "lengths, budget, caps",
    [
        ([10, 20, 30], 100, [10, 20, 30]),
        ([10, 200, 300], 100, [10, 45, 45]),
        ([200, 300, 400], 90, [30, 30, 30]),
        ([5, 300, 400], 100, [5, 47, 48]),
        ([0, 0, 50], 10, [0, 0, 10]),
        ([7, 7, 7], 0, [0, 0, 0]),
    ],
)
def test_allocate(lengths, budget, caps):
    assert allocate(lengths, budget) == caps
    assert sum(caps) <= budget


def test_fit_segments_keeps_every_segment_visible():
    cut = fit_segments([list(range(500)), list(range(3)), list(range(800))], 64)
    assert [len(c) for c in cut] == [30, 3, 31] and cut[0][:3] == [0, 1, 2]


def test_pair_segments_follow_order():
    assert pair_segments(ex(3), "ba") == ["q3", "b3", "a3"]


def test_build_training_set_on_real_sources(shared_root):
    train, val, report = build_training_set(
        ["train-ultrafeedback", "train-vicuna80"], val_fraction=0.1, root=shared_root
    )
    assert all(e.label is not None for e in train + val)
    assert len(train) % 2 == 0 and sum(e.meta.get("swapped", False) for e in train) == len(train) // 2
    assert {e.uid for e in train}.isdisjoint({e.uid for e in val})
    n_clean = len(train) // 2 + len(val)
    assert n_clean == 1200 + 1040 - sum(n for why, n in report.filtered.items() if why.startswith("question in"))
    limited, val, _ = build_training_set(
        ["train-llmeval2"], val_fraction=0.1, root=shared_root, swap=False, limit_per_source=200, clean=False
    )
    assert 150 < len(limited) < 200 and len(limited) + len(val) == 200  # the sample is not the val side


def test_head_features_per_answer_and_symmetric_tie_features():
    import math

    from judge_core.features import NAMES, TIE_NAMES, head_features, pair_features

    ex = PairExample(
        benchmark="b",
        subset="s",
        index=0,
        question="Name two colours",
        label=1,
        answer1="Red and blue.",
        answer2="I'm sorry, I cannot help with colours",
    )
    f1, f2, tie = head_features(ex, "ab")
    assert len(f1) == len(NAMES) and len(tie) == len(TIE_NAMES)
    named = dict(zip(NAMES, f2))
    assert f1[0] == pytest.approx(math.log1p(len("Red and blue."))) and named["refusal"] == 1.0
    assert named["question_overlap"] == pytest.approx(1 / 3)  # "colours" of {name, two, colours}
    # {red, and, blue} vs {i, m, sorry, cannot, help, with, colours}: nothing shared
    assert tie[-1] == 0.0 and tie[:-1] == [abs(a - b) for a, b in zip(f1, f2)]
    g1, g2, tie_ba = head_features(ex, "ba")  # the other order: answers trade places, tie features stay
    assert (g1, g2, tie_ba) == (f2, f1, tie)
    assert pair_features(ex)[: len(NAMES)] == [a - b for a, b in zip(f1, f2)]
    same = ex.model_copy(update={"answer2": "Blue and red"})
    assert head_features(same)[2][-1] == 1.0  # the same words: overlap 1
