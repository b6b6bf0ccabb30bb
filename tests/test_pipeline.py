"""judge_core.pipeline: rows, original-frame mapping of text/probabilities, failures with reasons."""

import math

import pytest

from judge_core.pipeline import example_of, expand, render, to_judgment
from judge_core.schema import PairExample, PointExample

EX = PairExample(benchmark="b", subset="s", index=3, question="Which is 2+2?", answer1="four", answer2="five", label=1)


def test_expand_one_row_per_order_and_example():
    rows = expand([EX], ("ab", "ba"))
    assert [(r["uid"], r["order"]) for r in rows] == [("b/s/3", "ab"), ("b/s/3", "ba")]
    assert "five" in render(rows[1], "label")[1]["content"].split("[The Start of Answer 1]")[1].split("[The End")[0]
    with pytest.raises(ValueError):
        expand([EX], ("xy",))


def test_swapped_text_verdict_and_probs_come_back_in_the_original_frame():
    ab, ba = expand([EX], ("ab", "ba"))
    j = to_judgment(ba, {"raw": "[2]", "probs": (0.1, 0.2, 0.7)}, "label", "j")
    assert j.verdict == 1  # "second shown" = answer1 in the source
    assert j.probs == pytest.approx((0.1, 0.7, 0.2))
    j = to_judgment(ba, {"probs": (0.1, 0.2, 0.7)}, "label", "j")
    assert (j.verdict, j.raw) == (1, None)
    assert to_judgment(ab, {"verdict": 2}, None, "j").verdict == 2
    assert to_judgment(ba, {"verdict": 2}, None, "j").verdict == 1


def test_failures_keep_their_reason_and_are_never_a_tie():
    ab = expand([EX], ("ab",))[0]
    j = to_judgment(ab, {"raw": "I cannot decide"}, "label", "j")
    assert j.verdict is None and j.error == "no [0]/[1]/[2] label"
    j = to_judgment(ab, {"raw": None, "error": "CUDA OOM"}, "label", "j")
    assert j.verdict is None and j.error == "CUDA OOM"
    assert to_judgment(ab, {}, "label", "j").error == "engine returned neither text nor probabilities"


POINT = PointExample(benchmark="b", subset="s", index=4, question="2+2?", answer="four", score=4.0, scale=(1, 5))


def test_pointwise_rows_parse_scores_and_round_trip():
    rows = expand([POINT, EX], ("ab", "ba"))
    assert [(r["uid"], r["order"]) for r in rows] == [("b/s/4", "ab"), ("b/s/3", "ab"), ("b/s/3", "ba")]
    assert example_of(rows[0]) == POINT and example_of(rows[1]) == EX
    j = to_judgment(rows[0], {"raw": "Fine. Rating: [[7]]"}, "mtbench-single", "j")
    assert (j.verdict, j.scores, j.error) == (None, (7.0,), None)
    j = to_judgment(rows[0], {"score": 6.25}, "mtbench-single", "j")  # label mode: the expected rating
    assert j.scores == (6.25,)
    assert to_judgment(rows[0], {"score": math.nan}, "mtbench-single", "j").error  # a model that computed nothing
    j = to_judgment(rows[0], {"raw": "Rating: [[12]]"}, "mtbench-single", "j")
    assert j.scores is None and j.error == "rating 12 is off the 1-10 scale"


def test_pointwise_judgments_score_with_correlations():
    from judge_core.data import load
    from judge_core.scoring import score_judgments

    examples, _ = load("critiquellm-pointwise", "reference-free")
    examples = examples[:40]
    judgments = [
        to_judgment(r, {"score": 2 * ex.score + (i % 3)}, "mtbench-single", "j")
        for i, (r, ex) in enumerate(zip(expand(examples, ("ab",)), examples))
    ]
    m = score_judgments("critiquellm-pointwise", "reference-free", judgments, bootstrap=0, examples=examples)
    from scipy.stats import pearsonr

    want = pearsonr([ex.score for ex in examples], [j.scores[0] for j in judgments]).statistic
    assert m["pearson"] == pytest.approx(want) and m["n"] == 40


def test_the_judges_parse_rule_reaches_the_parser_and_the_cell_hash():
    from ray_jobs.spec import JudgeSpec
    from ray_jobs.store import Cell

    ex = PairExample(benchmark="b", subset="s", index=0, question="q?", answer1="x", answer2="y", label=1)
    row = expand([ex], ("ab",))[0]
    text = {"raw": "[1] ... no, on reflection: [2]"}
    assert to_judgment(row, text, "label", "j").verdict == 2  # the default: the last label
    strict = to_judgment(row, text, "label", "j", parse="strict")
    assert strict.verdict is None and strict.error.startswith("ambiguous")

    def config(parse, template, mode="generate"):
        spec = JudgeSpec(name="j", engine="fake", model="m", parse=parse, mode=mode)
        return Cell(spec, template, "llmbar", "natural").config()

    # strict keeps the hash judgments had before the source rules (they were parsed strictly); the
    # default adds its rule; a one-rule template (PandaLM's first line) is the same either way
    assert "parse" not in config("strict", "label") and config(None, "label")["parse"] == "source"
    assert config("source", "label") == config(None, "label") != config("strict", "label")
    assert config(None, "pandalm") == config("strict", "pandalm")
    assert config(None, "label", "label") == config("strict", "label", "label")  # label mode parses no text
