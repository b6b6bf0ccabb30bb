"""Judge benchmarks with a trained classifier and score them under each paper's protocol.

    .venv/bin/judge finetune-eval results/finetune/minilm-cpu/adapter pandalm autoj llmbar/natural mtbench

Two judges per benchmark: "single" (each order judged on its own) and "swapavg" (the two orders'
probabilities averaged, the classifier's evaluation rule). On benchmarks without ties the verdict is
the likelier of the two answers, as their prompts force a choice. Predictions are written as
`judge score` input, so every number can be re-scored.
"""
from __future__ import annotations

import json
from pathlib import Path

from judge_core.data import load, source
from judge_core.scoring import score


def _verdict(p, allow_tie: bool) -> int:
    candidates = (1, 2, 0) if allow_tie else (1, 2)
    return max(candidates, key=lambda v: p[v])


def predictions(judge, examples) -> dict[str, list[dict]]:
    p_ab, p_ba = judge.probs(examples, "ab"), judge.probs(examples, "ba")
    allow_tie = any(ex.label == 0 for ex in examples)
    single, avg = [], []
    for ex, a, b in zip(examples, p_ab, p_ba):
        mean = tuple((x + y) / 2 for x, y in zip(a, b))
        for order, p in (("ab", a), ("ba", b)):
            single.append({"index": ex.index, "order": order, "verdict": _verdict(p, allow_tie), "probs": list(p)})
            avg.append({"index": ex.index, "order": order, "verdict": _verdict(mean, allow_tie), "probs": list(mean)})
    return {"single": single, "swapavg": avg}


def targets(names: list[str]) -> list[tuple[str, str]]:
    """"llmbar/natural" -> one subset; "llmbar" -> all of its subsets."""
    out = []
    for name in names:
        bench, _, subset = name.partition("/")
        out += [(bench, subset)] if subset else [(bench, s) for s in source(bench).subsets]
    return out


def evaluate(adapter: str | Path, benchmarks: list[str], out_dir: str | Path, root=None, bootstrap: int = 1000) -> dict:
    from .engines.classifier import ClassifierJudge

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
