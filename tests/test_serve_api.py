"""The serving app's bodies and answers without HTTP: parsing reasons, the combined verdict of two orders."""
import pytest

from judge_core.schema import Judgment
from ray_jobs.serve.api import HTTPError, PairIn, PointIn, pair_result, parse_body, to_examples


def test_one_item_or_a_list_and_the_reasons_for_refusing():
    items, single = parse_body(b'{"question": "q", "answer1": "a", "answer2": "b"}', PairIn, 4)
    assert single and items[0].answer2 == "b"
    items, single = parse_body(b'{"items": [{"question": "q", "answer": "a"}, {"question": "r", "answer": "b"}]}', PointIn, 4)
    assert not single and [i.question for i in items] == ["q", "r"]
    with pytest.raises(HTTPError) as e:
        parse_body(b'{"items": [' + b",".join([b'{"question": "q", "answer": "a"}'] * 5) + b"]}", PointIn, 4)
    assert e.value.status == 413
    with pytest.raises(HTTPError) as e:
        parse_body(b'{"question": "q", "answer1": "a"}', PairIn, 4)
    assert e.value.status == 422 and e.value.detail[0]["loc"] == ["answer2"]
    with pytest.raises(HTTPError) as e:
        to_examples([PairIn(question=["a", "b"], answer1=["x"], answer2=["y", "z"])])
    assert e.value.status == 422 and e.value.detail[0]["item"] == 0


@pytest.mark.parametrize("ab, ba, verdict, consistent", [
    (1, 1, 1, True), (2, 2, 2, True), (0, 0, 0, True),
    (1, 2, 0, False),     # the orders disagree: a tie (FastChat's rule)
    (1, None, None, False),  # one order failed: no combined verdict
])
def test_combined_verdict_of_text_judgments(ab, ba, verdict, consistent):
    js = [Judgment(uid="u", order="ab", verdict=ab, raw="r"), Judgment(uid="u", order="ba", verdict=ba, raw="r",
                                                                         error=None if ba is not None else "no verdict")]
    r = pair_result(js)
    assert (r["verdict"], r["swap_consistent"], r["probs"]) == (verdict, consistent, None)
    assert r["error"] == (None if ba is not None else "no verdict")


def test_combined_verdict_of_probabilities_averages_the_orders():
    js = [Judgment(uid="u", order="ab", verdict=1, probs=(0.1, 0.6, 0.3)),
          Judgment(uid="u", order="ba", verdict=2, probs=(0.1, 0.2, 0.7))]
    r = pair_result(js)
    assert r["verdict"] == 2 and r["probs"] == pytest.approx({"tie": 0.1, "answer1": 0.4, "answer2": 0.5})
    assert r["swap_consistent"] is False and r["orders"]["ab"]["verdict"] == 1
    assert pair_result(js[:1]) == {"verdict": 1, "probs": {"tie": 0.1, "answer1": 0.6, "answer2": 0.3}, "raw": None, "error": None}
