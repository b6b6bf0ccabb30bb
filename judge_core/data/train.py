"""Pairwise training sources under <data root>/train/ (see ../shared/data/README.md section 9).

`judge data show train-llmeval2`. Sources whose first answer is always the same kind (chosen,
baseline) get positions randomised per example: swap iff Random(f"{seed}/{uid}") says so.
Documented filters drop rows that overlap test sets; every dropped row is counted by reason.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ..schema import PairExample, presented
from ..verdicts import Verdict
from ._io import FieldError, LoadReport, OnBadRecord, collect, label_from, need, read_json_list, read_jsonl
from .registry import Source, Subset, github, register

SEED = 0


def place(example: PairExample, seed: int = SEED) -> PairExample:
    """Randomise which answer comes first, deterministically from the seed and the uid."""
    return presented(example, "ba" if random.Random(f"{seed}/{example.uid}").random() < 0.5 else "ab")


def _drop(report: LoadReport, reason: str) -> PairExample | None:
    """Count a row that a documented filter removes; make() returns what this returns (None) for it."""
    report.filter_out(reason)
    return None


# ---- LLMEval^2 (human, ties) -----------------------------------------------------------------
def _llmeval2(path: Path, source: Source, subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
    def make(row: int, r: Any) -> PairExample | None:
        if r.get("dataset") == "mt-bench":  # overlaps the MT-Bench and Auto-J test sets
            return _drop(report, "dataset == mt-bench (overlaps MT-Bench/Auto-J tests)")
        return PairExample(
            benchmark=source.name,
            subset=subset,
            index=row,
            question=need(r, "query"),
            answer1=need(r, "response1"),
            answer2=need(r, "response2"),
            label=label_from(r, "human", {"model1": 1, "model2": 2, "TIE": 0}),
            meta={"dataset": need(r, "dataset")},
        )

    return collect(read_jsonl(path), path, make, on_bad_record, report)


# ---- Anthropic HH-RLHF harmless-base test (human, chosen vs rejected) --------------------------
_ASSISTANT = "\n\nAssistant:"


def split_transcript(text: str, field: str) -> tuple[str, str]:
    """(dialogue before the last assistant turn, that turn's text)."""
    cut = text.rfind(_ASSISTANT)
    if cut < 0:
        raise FieldError(field, "no '\\n\\nAssistant:' turn")
    return text[:cut].strip(), text[cut + len(_ASSISTANT) :].strip()


def _hh(path: Path, source: Source, subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
    def make(row: int, r: Any) -> PairExample | None:
        prefix, chosen = split_transcript(need(r, "chosen"), "chosen")
        other, rejected = split_transcript(need(r, "rejected"), "rejected")
        if prefix != other:
            return _drop(report, "chosen and rejected differ before the last turn")
        return place(
            PairExample(
                benchmark=source.name,
                subset=subset,
                index=row,
                question=prefix,
                answer1=chosen,
                answer2=rejected,
                label=1,
            )
        )

    return collect(read_jsonl(path), path, make, on_bad_record, report)


# ---- AlpacaEval 1.0 GPT-4 annotations ----------------------------------------------------------
# 1.0 finds 1 too: equal numbers hash alike (ruff F601 flagged the float copies)
_PREFERENCE: dict[int, Verdict] = {1: 1, 2: 2, 0: 0}


def _alpaca(path: Path, source: Source, subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
    def make(row: int, r: Any) -> PairExample | None:
        if r.get("preference", 0) is None:
            return _drop(report, "preference is null (annotation failed)")
        if need(r, "dataset") == "selfinstruct":  # contains every PandaLM test instruction
            return _drop(report, "dataset == selfinstruct (overlaps PandaLM test)")
        return place(
            PairExample(
                benchmark=source.name,
                subset=subset,
                index=row,
                question=need(r, "instruction"),
                answer1=need(r, "output_1"),
                answer2=need(r, "output_2"),
                label=label_from(r, "preference", _PREFERENCE),
                meta={"dataset": r["dataset"], "models": [r.get("generator_1"), r.get("generator_2")]},
            )
        )

    return collect(read_json_list(path), path, make, on_bad_record, report)


_ALPACA_MODELS = (
    "alpaca-7b",
    "alpaca-7b-neft",
    "alpaca-farm-ppo-human",
    "falcon-40b-instruct",
    "guanaco-65b",
    "llama-2-7b-chat-hf",
    "minichat-3b",
    "oasst-rlhf-llama-33b",
    "phi-2",
    "phi-2-sft",
    "text_davinci_001",
    "vicuna-13b",
)


# ---- Vicuna-80 GPT-4 reviews (FastChat's first judge tables) ------------------------------------
def _index_by(path: Path, key: str) -> dict:
    return {r[key]: r for _, r in read_jsonl(path) if isinstance(r, dict)}


def _vicuna80(path: Path, source: Source, subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
    table = path.parents[2]  # .../table/review/<dir>/review_x_y.jsonl
    questions = _index_by(table / "question.jsonl", "question_id")
    answers = {}
    for f in sorted((table / "answer").glob("answer_*.jsonl")):
        answers.update(_index_by(f, "answer_id"))

    def make(row: int, r: Any) -> PairExample | None:
        q = questions.get(need(r, "question_id", int))
        a1, a2 = answers.get(need(r, "answer1_id")), answers.get(need(r, "answer2_id"))
        if q is None or a1 is None or a2 is None:
            raise FieldError("question_id/answer*_id", "id not found in the question/answer tables")
        s1, s2 = need(r, "score", list)
        return place(
            PairExample(
                benchmark=source.name,
                subset=subset,
                index=row,
                question=q["text"],
                answer1=a1["text"],
                answer2=a2["text"],
                label=1 if s1 > s2 else 2 if s2 > s1 else 0,
                meta={
                    "category": q.get("category"),
                    "models": [a1.get("model_id"), a2.get("model_id")],
                    "scores": [s1, s2],
                    "review": r.get("text"),
                },
            )
        )

    return collect(read_jsonl(path), path, make, on_bad_record, report)


_VICUNA_REVIEWS = {
    "others/review_llama_alpaca-13b.jsonl",
    *(
        f"vicuna-13b_20230322-clean-lang/review_{m}_vicuna-13b.jsonl"
        for m in ("alpaca-13b", "bard", "gpt35", "llama-13b")
    ),
    *(
        f"vicuna-13b_20230322-new-hp-fp16/review_{m}_vicuna-13b-20230322-new-hp-fp16.jsonl"
        for m in ("alpaca-13b", "bard", "gpt35", "llama")
    ),
    *(f"vicuna-7b_20230322-fp16/review_{m}_vicuna-7b.jsonl" for m in ("alpaca-13b", "bard", "gpt35", "llama")),
}


# ---- UltraFeedback binarized sample (GPT-4 scores; equal scores = tie) ---------------------------
def _ultrafeedback(path: Path, source: Source, subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
    def make(row: int, r: Any) -> PairExample | None:
        meta = need(r, "metadata", dict)
        sc, sr = float(meta["score_chosen"]), float(meta["score_rejected"])
        if sc < sr:
            raise FieldError("metadata", f"score_chosen {sc} < score_rejected {sr}")
        return place(
            PairExample(
                benchmark=source.name,
                subset=subset,
                index=row,
                question=need(r, "prompt"),
                answer1=need(r, "chosen"),
                answer2=need(r, "rejected"),
                label=1 if sc > sr else 0,
                meta={"scores": [sc, sr], "source_index": r.get("source_index")},
            )
        )

    return collect(read_jsonl(path), path, make, on_bad_record, report)


register(
    Source(
        name="train-llmeval2",
        kind="train",
        read=_llmeval2,
        filters=("dataset == mt-bench",),
        description="LLMEval^2 human pairwise judgments (ties); mt-bench rows dropped (test overlap)",
        subsets={"all": Subset("train/llmeval2/LLMEval2_benchmark.json", None)},
    )
)
register(
    Source(
        name="train-hh-harmless",
        kind="train",
        read=_hh,
        description="Anthropic HH-RLHF harmless-base test: chosen vs rejected last turn, positions randomised",
        subsets={"test": Subset("train/hh_rlhf/harmless-base/test.jsonl", None)},
    )
)
register(
    Source(
        name="train-alpaca-eval",
        kind="train",
        read=_alpaca,
        filters=("dataset == selfinstruct", "preference is null"),
        description="AlpacaEval 1.0 GPT-4 annotations vs text-davinci-003 (12 models); selfinstruct dropped",
        subsets={
            m: Subset(
                f"train/alpaca_eval/results/{m}/alpaca_eval_gpt4/annotations.json",
                github(
                    "tatsu-lab/alpaca_eval",
                    "cd543a149df89434d8a54582c0151c0b945c3d20",
                    f"results/{m}/alpaca_eval_gpt4/annotations.json",
                    None,
                ),
            )
            for m in _ALPACA_MODELS
        },
    )
)
register(
    Source(
        name="train-vicuna80",
        kind="train",
        read=_vicuna80,
        description="FastChat Vicuna-80 GPT-4 pairwise reviews (score pairs; equal = tie)",
        subsets={
            Path(p).stem.removeprefix("review_"): Subset(f"train/vicuna80_gpt4_reviews/table/review/{p}")
            for p in sorted(_VICUNA_REVIEWS)
        },
    )
)
register(
    Source(
        name="train-ultrafeedback",
        kind="train",
        read=_ultrafeedback,
        description="UltraFeedback binarized sample (GPT-4 scores; equal = tie), positions randomised",
        subsets={
            s: Subset(
                f"train/ultrafeedback_sample/{s}_clean.jsonl",
                github(
                    "kkminions888-ops/ultrafeedback-dpo-noise-study",
                    "859ef0a82f3a27f71cef9136a432f19945f704de",
                    f"data/processed/{s}_clean.jsonl",
                    sha,
                ),
            )
            for s, sha in (
                ("train", "136b0163cbca47cc562ce260e4be38745f638563bce2930771da8cd8c9791c8e"),
                ("eval", "932ea766ae90386f0a6c0c764162d28321c3ebfd7cd4c534aa5c0589bc9c2e0c"),
            )
        },
    )
)
