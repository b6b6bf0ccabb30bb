"""Auto-J: pairwise test set (1,392 = 58 scenarios x 24), pairwise training format, pointwise training data.

`judge data show autoj`. Auto-J codes 0 = response 1 better, 1 = response 2 better, 2 = tie.
"""

from __future__ import annotations

import re

from ..schema import PairExample, PointExample
from ..verdicts import Verdict
from ._io import label_from, need, read_jsonl
from .registry import Source, pinned_file, register, rows_reader

AUTOJ_TO_PROJECT: dict[int, Verdict] = {0: 1, 1: 2, 2: 0}
_REPO, _COMMIT = "GAIR-NLP/auto-j", "2ae17a3965d933232e9cd50302aa0f176249c83b"

# Auto-J's eight scenario groups (codes/leaderboard/utils_constants.py), used by its per-group table.
SCENARIO_GROUPS = {
    "Summarization": ["post_summarization", "text_summarization", "note_summarization"],
    "Exam Questions": ["math_reasoning", "solving_exam_question_with_math", "solving_exam_question_without_math"],
    "Code": [
        "code_simplification",
        "code_generation",
        "explaining_code",
        "code_correction_rewriting",
        "code_to_code_translation",
    ],
    "Rewriting": [
        "text_simplification",
        "language_polishing",
        "instructional_rewriting",
        "text_correction",
        "paraphrasing",
    ],
    "Creative Writing": [
        "writing_song_lyrics",
        "writing_social_media_post",
        "writing_blog_post",
        "writing_personal_essay",
        "creative_writing",
        "writing_advertisement",
        "writing_marketing_materials",
        "writing_presentation_script",
        "counterfactual",
    ],
    "Functional Writing": [
        "writing_product_description",
        "writing_job_application",
        "writing_news_article",
        "writing_biography",
        "writing_email",
        "writing_legal_document",
        "writing_technical_document",
        "writing_scientific_paper",
        "functional_writing",
        "writing_cooking_recipe",
    ],
    "General Communication": [
        "asking_how_to_question",
        "open_question",
        "analyzing_general",
        "explaining_general",
        "seeking_advice",
        "recommendation",
        "value_judgement",
        "verifying_fact",
        "chitchat",
        "roleplay",
        "planning",
        "brainstorming",
    ],
    "NLP Tasks": [
        "ranking",
        "text_to_text_translation",
        "data_analysis",
        "classification_identification",
        "title_generation",
        "question_generation",
        "reading_comprehension",
        "keywords_extraction",
        "information_extraction",
        "topic_modeling",
        "others",
    ],
}
GROUP_OF = {s: g for g, scenarios in SCENARIO_GROUPS.items() for s in scenarios}


def _test_example(row: int, r: dict, source: Source, subset: str) -> PairExample:
    scenario = need(r, "scenario")
    if scenario not in GROUP_OF:
        raise ValueError(f"scenario {scenario!r} is in none of Auto-J's groups")
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=need(r, "prompt"),
        answer1=need(r, "response 1"),
        answer2=need(r, "response 2"),
        label=label_from(r, "label", AUTOJ_TO_PROJECT),
        meta={"scenario": scenario, "group": GROUP_OF[scenario]},
    )


# Auto-J training rows hold the whole rendered prompt; the data sits between these markers.
_PAIR_RE = re.compile(
    r"\[Query\]: (?P<q>.*?)\n\*\*\*\n\[Response 1\]: (?P<a1>.*?)\n\*\*\*\n"
    r"\[Response 2\]: (?P<a2>.*?)\n\*\*\*\n\[END DATA\]",
    re.S,
)
_SINGLE_RE = re.compile(r"\[Query\]: (?P<q>.*?)\n\*\*\*\n\[Response\]: (?P<a>.*?)\n\*\*\*\n\[END DATA\]", re.S)


def _match(pattern: re.Pattern, text: str, field: str) -> re.Match:
    m = pattern.search(text)
    if m is None:
        raise ValueError(f"{field}: no Auto-J [Query]/[Response] block")
    return m


def _pair_train_example(row: int, r: dict, source: Source, subset: str) -> PairExample:
    m = _match(_PAIR_RE, need(r, "usermsg"), "usermsg")
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=m["q"],
        answer1=m["a1"],
        answer2=m["a2"],
        label=label_from(r, "gt_label", AUTOJ_TO_PROJECT),
        meta={
            "scenario": r.get("scenario"),
            "source_dataset": r.get("source_dataset"),
            "target_output": r.get("target_output"),
        },
    )


def _single_train_example(row: int, r: dict, source: Source, subset: str) -> PointExample:
    m = _match(_SINGLE_RE, need(r, "usrmsg"), "usrmsg")
    return PointExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=m["q"],
        answer=m["a"],
        score=float(need(r, "pred_score", (int, float))),
        scale=(1.0, 10.0),
        meta={"scenario": r.get("scenario"), "critique": r.get("target_output")},
    )


register(
    Source(
        name="autoj",
        kind="benchmark",
        protocol="autoj",
        read=rows_reader(read_jsonl, _test_example),
        description="Auto-J pairwise test set, 58 scenarios in 8 groups (labels mapped 0->1, 1->2, 2->tie)",
        subsets=pinned_file(
            "test",
            "autoj/testdata_pairwise.jsonl",
            _REPO,
            _COMMIT,
            "data/test/testdata_pairwise.jsonl",
            "56f32fad71d9b6b33bc4d51794c324981e26355bcbf3ce4908d7f8ddcc61f80e",
        ),
    )
)
register(
    Source(
        name="train-autoj-pairwise",
        kind="train",
        read=rows_reader(read_jsonl, _pair_train_example),
        description="Auto-J pairwise training format (usermsg, target_output, gt_label 0/1/2); "
        "the 3,436-row file is not in ../shared/data",
        subsets=pinned_file(
            "train", "autoj/pairwise_traindata.jsonl", _REPO, _COMMIT, "data/training/pairwise_traindata.jsonl", None
        ),
    )
)
register(
    Source(
        name="train-autoj-single",
        kind="train",
        read=rows_reader(read_jsonl, _single_train_example),
        description="Auto-J single-response critiques with GPT-4 ratings 1-10 (pointwise)",
        subsets=pinned_file(
            "train",
            "autoj/single_traindata.jsonl",
            _REPO,
            _COMMIT,
            "data/single_traindata.jsonl",
            "024ad63c3d35b2f9525c68ec2fac3883ad6b17af77e5197538e91a1c0c590555",
        ),
    )
)
