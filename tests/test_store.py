"""ray_jobs.store: the Parquet row of a judgment, results written before this layout, cell hashes."""

import math

import pyarrow as pa
import pyarrow.parquet as pq

from judge_core.pipeline import expand, to_judgment
from judge_core.schema import PairExample, PointExample
from ray_jobs.spec import JudgeSpec
from ray_jobs.store import JUDGMENTS, Cell, judgment_from_row, judgment_row, read_judgments, write_judgments

EX = PairExample(benchmark="b", subset="s", index=3, question="Which is 2+2?", answer1="four", answer2="five", label=1)
POINT = PointExample(benchmark="b", subset="s", index=4, question="2+2?", answer="four", score=4.0, scale=(1, 5))


def _judgments():
    ab, ba = expand([EX], ("ab", "ba"))
    point = expand([POINT], ("ab",))[0]
    return [
        to_judgment(ab, {"raw": "[[A]]", "tokens_in": 10, "tokens_out": 2}, "mtbench-pair", "j"),
        to_judgment(ba, {"probs": (0.2, 0.5, 0.3)}, "label", "j"),
        to_judgment(ab, {"error": "engine failed"}, "label", "j"),
        to_judgment(point, {"raw": "Fine. Rating: [[7]]"}, "mtbench-single", "j"),
        to_judgment(point, {"score": 6.25}, "mtbench-single", "j"),
    ]


def test_a_judgment_round_trips_through_parquet_with_null_for_absent_probabilities(tmp_path):
    judgments = _judgments()
    rows = [judgment_row(j) for j in judgments]
    assert rows[0]["p1"] is None and rows[1]["p1"] == 0.3  # the "ba" row is stored in the original frame
    write_judgments(tmp_path, judgments)
    table = pq.read_table(tmp_path / "parts" / "part-00000.parquet")
    assert table["p_tie"].null_count == 4 and not any(math.isnan(p) for p in table["p_tie"].drop_null().to_pylist())
    assert read_judgments(tmp_path) == judgments


def test_parts_written_before_this_layout_hold_nan_and_still_read(tmp_path):
    """Parts from before 2026-12 wrote a missing probability as NaN: they read back as None."""
    j = _judgments()[0]
    old = judgment_row(j) | {"p_tie": math.nan, "p1": math.nan, "p2": math.nan, "truncated": False}
    (tmp_path / "parts").mkdir()
    pq.write_table(pa.Table.from_pylist([old], schema=JUDGMENTS), tmp_path / "parts" / "part-00000.parquet")
    assert read_judgments(tmp_path) == [j] and judgment_from_row(old).probs is None


def test_cell_hashes_are_those_of_results_written_before_this_layout():
    """The config hash decides whether stored judgments are reused: the redesign kept it byte for
    byte (values computed with the code before it), so existing results directories are not re-judged."""
    hf = JudgeSpec(
        name="q", engine="hf", model="Qwen/Qwen2.5-7B-Instruct", mode="label", options={"max_model_len": 8192}
    )
    openai = JudgeSpec(name="o", engine="openai", model="judge", options={"max_tokens": 8, "base_url": "http://x/v1"})
    assert Cell(hf, "label", "llmbar", "natural", ("ab", "ba"), 20).config_hash() == "2869e317b67792cf"
    # a generate-mode judge: its stored judgments were parsed strictly, so strict keeps the hash and the
    # default (the template's source rule, issue 29) is a new one: those cells are judged again, once
    strict = openai.model_copy(update={"parse": "strict"})
    assert Cell(strict, "mtbench-pair", "pandalm", "test", ("ab",)).config_hash() == "8d223145b26be82a"
    assert Cell(openai, "mtbench-pair", "pandalm", "test", ("ab",)).config_hash() == "037fb1717a51b49c"
    longer = JudgeSpec(name="longer", engine="baseline", model="longer")
    assert Cell(longer, None, "autoj", "test").config_hash() == "05c4bf6d7c4d821c"
