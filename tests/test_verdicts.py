"""judge_core.verdicts: the one rule from probabilities and from two orders, and every user of it."""

import pytest

from judge_core.schema import Judgment, PairExample
from judge_core.verdicts import average_orders, combine_orders, ties_allowed, verdict_from_probs


@pytest.mark.parametrize(
    "probs, tie, expected",
    [
        ((0.5, 0.3, 0.2), True, 0),
        ((0.5, 0.3, 0.2), False, 1),
        ((0.2, 0.3, 0.5), True, 2),
        ((0.0, 0.5, 0.5), True, 0),
        ((0.0, 0.5, 0.5), False, 1),
        (None, True, None),
        ((0.4, 0.4, 0.2), True, 1),  # a tie must be strictly likelier than both answers
        ((1 / 3, 1 / 3, 1 / 3), True, 0),
        ((1 / 3, 1 / 3, 1 / 3), False, 1),
    ],
)
def test_verdict_from_probs(probs, tie, expected):
    assert verdict_from_probs(probs, tie) == expected


def test_average_and_combine_orders():
    assert average_orders([(0.2, 0.5, 0.3), (0.2, 0.3, 0.5)]) == pytest.approx((0.2, 0.4, 0.4))
    assert average_orders([(0.2, 0.5, 0.3), None]) is None and average_orders([]) is None
    assert [combine_orders(a, b) for a, b in ((1, 1), (1, 2), (0, 2), (2, None), (None, None))] == [1, 0, 0, None, None]


def test_ties_allowed_when_the_gold_has_ties_or_there_is_no_gold():
    def ex(label):
        return PairExample(benchmark="b", subset="s", index=0, question="q", answer1="a", answer2="b", label=label)

    assert ties_allowed([ex(1), ex(0)]) and ties_allowed([ex(None)]) and not ties_allowed([ex(1), ex(2)])


EVEN = (0.2, 0.4, 0.4)  # answers exactly even: where the four old copies of the rule disagreed


def test_every_user_decides_by_the_one_rule():
    """`judge score` rows with only probabilities, the Arena protocol, the serving app's combined
    verdict, swap averaging and fine-tune evaluation give what verdict_from_probs gives."""
    from judge_core.calibration import swap_averaged
    from judge_core.protocols import ProtocolRecord, arena
    from judge_core.scoring import _row
    from ray_jobs.finetune.eval import predictions
    from ray_jobs.serve.api import pair_result

    want = verdict_from_probs(EVEN)
    assert _row("p.jsonl", 1, {"index": 0, "probs": list(EVEN)}, None, False)[2].verdict == want
    assert arena([ProtocolRecord(gold=want, probs_ab=EVEN, has_ab=True)])["accuracy"] == 1.0
    ab, ba = (Judgment(uid="u", order=o, probs=EVEN, verdict=1) for o in ("ab", "ba"))
    assert pair_result([ab, ba])["verdict"] == want
    assert {j.verdict for j in swap_averaged([ab, ba], allow_tie=True)} == {want}

    class Even:
        def probs(self, examples, order):
            return [EVEN for _ in examples]

    ex = PairExample(benchmark="b", subset="s", index=0, question="q", answer1="a", answer2="b", label=0)
    rows = predictions(Even(), [ex])
    assert {r["verdict"] for variant in rows.values() for r in variant} == {want}
