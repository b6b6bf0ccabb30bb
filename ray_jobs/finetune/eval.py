"""Judge benchmarks with a trained encoder judge and score them under each paper's protocol.

    .venv/bin/judge finetune-eval results/finetune/minilm-cpu/adapter pandalm autoj llmbar/natural mtbench

Two judges per benchmark: "single" (each order judged on its own) and "swapavg" (the two orders'
probabilities averaged, the classifier's evaluation rule). Verdicts come from judge_core.verdicts
(on benchmarks without ties the likelier of the two answers, as their prompts force a choice).
Predictions are written as `judge score` input, so every number can be re-scored.
"""

from __future__ import annotations

import json
from pathlib import Path

from judge_core.data import load, targets
from judge_core.schema import to_original
from judge_core.scoring import score
from judge_core.verdicts import average_orders, ties_allowed, verdict_from_probs


def predictions(judge, examples) -> dict[str, list[dict]]:
    """{"single": rows, "swapavg": rows} of `judge score` predictions, original answer frame."""
    p_ab, p_ba = ([to_original(p, order) for p in judge.probs(examples, order)] for order in ("ab", "ba"))
    allow_tie = ties_allowed(examples)
    single, avg = [], []
    for ex, a, b in zip(examples, p_ab, p_ba):
        mean = average_orders([a, b])
        for order, p in (("ab", a), ("ba", b)):
            single.append(
                {"index": ex.index, "order": order, "verdict": verdict_from_probs(p, allow_tie), "probs": list(p)}
            )
            avg.append(
                {"index": ex.index, "order": order, "verdict": verdict_from_probs(mean, allow_tie), "probs": list(mean)}
            )
    return {"single": single, "swapavg": avg}


def evaluate(adapter: str | Path, benchmarks: list[str], out_dir: str | Path, root=None, bootstrap: int = 1000) -> dict:
    from ..engines.classifier import ClassifierJudge  # heavy: torch and peft, kept out of `judge --help`

    judge = ClassifierJudge(adapter)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for bench, subset in targets(benchmarks):
        examples = [ex for ex in load(bench, subset, root=root)[0] if ex.label is not None]
        for variant, rows in predictions(judge, examples).items():
            path = out_dir / f"{bench}-{subset}.{variant}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            results[f"{bench}/{subset}/{variant}"] = score(bench, path, subset=subset, root=root, bootstrap=bootstrap)
    (out_dir / "metrics.json").write_text(json.dumps(results, indent=1))
    return results
