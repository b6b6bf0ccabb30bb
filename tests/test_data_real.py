"""Loaders on the real files in ../shared/data: counts and label distributions as documented there."""

from collections import Counter

import pytest

from judge_core.data import LoadReport, decontaminate, load, normalise_text
from judge_core.data.autoj import GROUP_OF

# (source, subset, rows, {label: count}) from ../shared/data/README.md
PAIR_COUNTS = [
    ("pandalm", "test", 999, {1: 422, 2: 472, 0: 105}),
    ("autoj", "test", 1392, {1: 520, 2: 499, 0: 373}),
    ("llmbar", "natural", 100, {1: 42, 2: 58}),
    ("llmbar", "neighbor", 134, {1: 75, 2: 59}),
    ("llmbar", "gptinst", 92, {1: 45, 2: 47}),
    ("llmbar", "gptout", 47, {1: 22, 2: 25}),
    ("llmbar", "manual", 46, {1: 22, 2: 24}),
    ("mtbench", "human", 200, {1: 101, 2: 99}),
    ("critiquellm-pairwise", "reference-based", 100, {1: 50, 2: 50}),
    ("critiquellm-pairwise", "reference-free", 100, {1: 60, 2: 40}),
    ("arena", "train", 100, {1: 31, 2: 33, 0: 36}),
    ("arena", "test", 3, {None: 3}),
    ("train-llmeval2", "all", 2278, {1: 979, 2: 949, 0: 350}),  # after dropping 275 mt-bench rows
    ("train-ultrafeedback", "train", 1000, {0: 111}),
    ("train-ultrafeedback", "eval", 200, {0: 25}),
    ("train-vicuna80", None, 1040, {0: 100}),
]


@pytest.mark.parametrize("name, subset, rows, labels", PAIR_COUNTS)
def test_pair_counts(shared_root, name, subset, rows, labels):
    examples, report = load(name, subset, root=shared_root)
    assert len(examples) == rows
    counts = Counter(e.label for e in examples)
    for label, n in labels.items():
        assert counts[label] == n
    assert not report.skipped
    assert len({e.uid for e in examples}) == rows


def test_pandalm_gold_is_majority_and_index_is_position(shared_root):
    examples, _ = load("pandalm", root=shared_root)
    assert [e.index for e in examples] == list(range(999))
    assert sum(len(set(e.meta["annotators"])) == 1 for e in examples) == 879  # unanimous rows
    for e in examples:
        assert e.meta["annotators"].count(e.label) >= 2
    assert examples[157].answer1 == "True"  # JSON true in the source, formatted as PandaLM does
    assert sum(1 for e in examples if e.meta["input"].strip() == "") == 167


def test_autoj_mapping_and_groups(shared_root):
    examples, _ = load("autoj", root=shared_root)
    assert examples[0].label == 2  # source label 1 = response 2 better
    assert len({e.meta["scenario"] for e in examples}) == 58
    assert Counter(e.meta["group"] for e in examples)["Summarization"] == 3 * 24
    assert all(e.meta["group"] == GROUP_OF[e.meta["scenario"]] for e in examples)


def test_critiquellm_pointwise(shared_root):
    based, _ = load("critiquellm-pointwise", "reference-based", root=shared_root)
    free, _ = load("critiquellm-pointwise", "reference-free", root=shared_root)
    assert Counter(e.score for e in based) == {1: 55, 2: 5, 3: 17, 4: 20, 5: 3}
    assert Counter(e.score for e in free) == {1: 49, 2: 11, 3: 17, 4: 19, 5: 4}
    assert all(e.reference for e in based) and all(e.reference is None for e in free)


def test_arena_multi_turn(shared_root):
    examples, _ = load("arena", "train", root=shared_root)
    first = examples[0]
    assert first.meta["id"] == "30192" and first.meta["models"] == ["gpt-4-1106-preview", "gpt-4-0613"]
    assert len(first.question) == 2 and len(first.answer1) == 2 and first.label == 1
    assert max(len(e.question) for e in examples) > 2


def test_training_filters(shared_root):
    _, report = load("train-llmeval2", root=shared_root)
    assert sum(report.filtered.values()) == 275
    alpaca, report = load("train-alpaca-eval", root=shared_root)
    assert len(alpaca) + sum(report.filtered.values()) == 9660
    assert all(e.meta["dataset"] != "selfinstruct" for e in alpaca)
    assert report.filtered["preference is null (annotation failed)"] == 11
    hh, report = load("train-hh-harmless", root=shared_root)
    assert len(hh) == 2307 and Counter(e.label for e in hh) == {1: 1168, 2: 1139}  # positions randomised
    assert load("train-hh-harmless", root=shared_root)[0] == hh  # ... deterministically


def test_training_positions_are_random_but_labels_follow(shared_root):
    uf, _ = load("train-ultrafeedback", "eval", root=shared_root)
    non_tie = [e for e in uf if e.label != 0]
    assert 0.35 < sum(e.label == 1 for e in non_tie) / len(non_tie) < 0.65


def test_decontaminate_removes_benchmark_questions(shared_root):
    vicuna, _ = load("train-vicuna80", root=shared_root)
    report = LoadReport()
    kept = decontaminate(vicuna, shared_root, report)
    bench = {
        normalise_text(e.question) for name in ("autoj", "llmbar", "mtbench") for e in load(name, root=shared_root)[0]
    }
    assert not any(normalise_text(e.question) in bench for e in kept)
    assert sum(report.filtered.values()) == len(vicuna) - len(kept) > 0
