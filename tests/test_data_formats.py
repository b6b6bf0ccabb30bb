"""Loaders for formats whose real files are not in ../shared/data: JudgeLM JSONL, Auto-J pairwise training."""

import json

import pytest

from judge_core.data import BadRecordError, load
from judge_core.prompts import get
from judge_core.schema import PairExample


def judgelm_row(s1, s2, reference=None, **extra):
    row = {
        "review_id": "r",
        "question_id": 7,
        "question_body": "What is 2+2?",
        "answer1_body": "4",
        "answer2_body": "5",
        "answer1_model_id": "m1",
        "answer2_model_id": "m2",
        "score": [s1, s2],
        "text": f"{s1} {s2}\nbecause",
    }
    if reference is not None:
        row |= {"reference": {"text": reference}, "score_w_reference": [s2, s1], "text_w_reference": "x"}
    return row | extra


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_judgelm_score_pairs_to_labels(tmp_path):
    write_jsonl(
        tmp_path / "judgelm" / "judgelm_val_5k_gpt4.jsonl",
        [judgelm_row(8, 6), judgelm_row(3, 9), judgelm_row(7.5, 7.5), judgelm_row(9, 1, reference="4")],
    )
    examples, _ = load("judgelm-val", root=tmp_path)
    assert [e.label for e in examples] == [1, 2, 0, 1]
    assert examples[0].meta["scores"] == [8.0, 6.0] and examples[0].meta["models"] == ["m1", "m2"]
    assert all(e.reference is None for e in examples)  # the plain val set judges without reference


def test_judgelm_with_reference_uses_its_scores(tmp_path):
    from judge_core.data import judgelm
    from judge_core.data._io import LoadReport
    from judge_core.data.registry import SOURCES

    path = tmp_path / "v.jsonl"
    write_jsonl(path, [judgelm_row(9, 1, reference="4"), judgelm_row(2, 3)])
    examples = judgelm.reader(with_reference=True)(path, SOURCES["judgelm-val"], "val", "error", LoadReport())
    assert examples[0].reference == "4" and examples[0].label == 2  # score_w_reference is [1, 9]
    assert examples[1].reference is None and examples[1].label == 2


def test_judgelm_bad_score(tmp_path):
    write_jsonl(
        tmp_path / "judgelm" / "judgelm_val_5k_gpt4.jsonl", [judgelm_row(8, 6), judgelm_row(8, 6) | {"score": [8]}]
    )
    with pytest.raises(BadRecordError, match=r"line 2 \(example 1\), field 'score': expected two numbers"):
        load("judgelm-val", root=tmp_path)


def test_autoj_pairwise_training_format_round_trip(tmp_path):
    """Rows hold Auto-J's rendered prompt; the loader recovers query and responses from it."""
    ex = PairExample(
        benchmark="x",
        subset="y",
        index=0,
        question="Summarise:\n\nA long post.",
        answer1="Short.\n\nTwo paragraphs.",
        answer2="Other",
        label=1,
    )
    usermsg = get("autoj").render(ex, "ab")[0]["content"]
    rows = [
        {
            "usermsg": usermsg,
            "target_output": "... So, the final decision is Response 2",
            "gt_label": 1,
            "pred_label": 1,
            "scenario": "post_summarization",
            "source_dataset": "chatbot_arena",
        },
        {"usermsg": "no data block", "gt_label": 0},
    ]
    write_jsonl(tmp_path / "autoj" / "pairwise_traindata.jsonl", rows)
    examples, report = load("train-autoj-pairwise", root=tmp_path, on_bad_record="skip")
    got = examples[0]
    assert (got.question, got.answer1, got.answer2) == (ex.question, ex.answer1, ex.answer2)
    assert got.label == 2 and got.meta["scenario"] == "post_summarization"  # Auto-J 1 = response 2
    assert report.skipped[0].index == 1 and "no Auto-J [Query]/[Response] block" in str(report.skipped[0])


def test_autoj_single_training_data(shared_root):
    examples, _ = load("train-autoj-single", root=shared_root)
    assert len(examples) == 960 and examples[0].question.startswith("Evaluate the efficiency")
    assert examples[0].score == 3.0 and examples[0].meta["critique"].endswith("Rating: [[3]]")
