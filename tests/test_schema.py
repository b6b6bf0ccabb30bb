import pytest
from pydantic import ValidationError

from judge_core.schema import Judgment, PairExample, PointExample, to_original


def pair(**kw):
    base = {"benchmark": "b", "subset": "s", "index": 3, "question": "q?", "answer1": "x", "answer2": "y", "label": 1}
    return PairExample(**(base | kw))


def test_uid_and_swap():
    ex = pair(label=1)
    assert ex.uid == "b/s/3"
    sw = ex.swapped()
    assert (sw.answer1, sw.answer2, sw.label) == ("y", "x", 2)
    assert pair(label=0).swapped().label == 0
    assert pair(label=None).swapped().label is None


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"label": 3}, "label"),
        ({"label": -1}, "label"),
        ({"question": "   "}, "question is empty"),
        ({"question": []}, "question has no turns"),
        ({"index": -1}, "index"),
        ({"benchmark": ""}, "benchmark"),
        ({"question": ["a", "b"], "answer1": ["x"], "answer2": ["y", "z"]}, "answer1 has 1 turns"),
        ({"question": ["a"], "answer1": "x", "answer2": ["y"]}, "both be single-turn or both multi-turn"),
        ({"extra": 1}, "extra"),
    ],
)
def test_pair_validation(kw, message):
    with pytest.raises(ValidationError, match=message):
        pair(**kw)


def test_records_are_immutable():
    ex = pair()
    with pytest.raises(ValidationError):
        ex.label = 2


def test_point_example_scale():
    PointExample(benchmark="b", subset="s", index=0, question="q", answer="a", score=5, scale=(1, 5))
    with pytest.raises(ValidationError, match="outside scale"):
        PointExample(benchmark="b", subset="s", index=0, question="q", answer="a", score=6, scale=(1, 5))


def test_judgment_needs_reason_without_verdict():
    with pytest.raises(ValidationError, match="must say why"):
        Judgment(uid="b/s/0", verdict=None)
    assert Judgment(uid="b/s/0", verdict=None, error="no marker").error == "no marker"
    with pytest.raises(ValidationError, match="not a distribution"):
        Judgment(uid="b/s/0", verdict=1, probs=(0.5, 0.5, 0.5))


def test_frame_mapping():
    assert [to_original(v, "ba") for v in (0, 1, 2, None)] == [0, 2, 1, None]
    assert [to_original(v, "ab") for v in (0, 1, 2, None)] == [0, 1, 2, None]
    assert to_original((0.1, 0.7, 0.2), "ba") == (0.1, 0.2, 0.7)
    assert to_original((3.0, 8.0), "ba") == (8.0, 3.0)  # a pair's two scores
    assert to_original((0.1, 0.7, 0.2), "ab") == (0.1, 0.7, 0.2)
    import numpy as np

    assert to_original(np.int64(1), "ba") == 2  # verdicts out of a Ray Data batch
    with pytest.raises(ValueError):
        to_original(1, "xy")


def test_presented_is_the_one_swap_rule():
    from judge_core.schema import PairExample, PointExample, presented

    pair = PairExample(benchmark="b", subset="s", index=0, question="q", answer1="x", answer2="y", label=1)
    shown = presented(pair, "ba")
    assert (shown.answer1, shown.answer2, shown.label) == ("y", "x", 2) and presented(pair, "ab") is pair
    point = PointExample(benchmark="b", subset="s", index=0, question="q", answer="x", score=3)
    assert presented(point, "ba") is point  # one answer: one way to show it
    with pytest.raises(ValueError, match="order must be one of"):
        presented(pair, "BA")
