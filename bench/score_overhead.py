"""How much does `judge score` cost over the bare minimum? Prints a machine-independent ratio.

    .venv/bin/python -m bench.score_overhead

Scores 2 x 1,392 Auto-J judgments (both orders) through judge_core.scoring (validation, coverage
checks, the protocol, per-group table; no bootstrap) and through a bare loop that only reads the
JSONL and counts agreement. ratio = scoring time / bare time (lower is better).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

from judge_core.data import load
from judge_core.scoring import score


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    examples, _ = load("autoj")
    rng = random.Random(0)
    rows = [
        {"index": e.index, "order": o, "verdict": e.label if rng.random() < 0.7 else rng.choice([0, 1, 2])}
        for e in examples
        for o in ("ab", "ba")
    ]
    path = Path(tempfile.mkdtemp()) / "preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gold = {e.index: e.label for e in examples}

    def bare():
        by = {}
        for line in path.read_text().splitlines():
            r = json.loads(line)
            by[r["index"], r["order"]] = r["verdict"]
        return sum(by[i, "ab"] == by[i, "ba"] == g for i, g in gold.items()) / len(gold)

    full_s = best_of(lambda: score("autoj", path, bootstrap=0))
    bare_s = best_of(bare)
    assert abs(score("autoj", path, bootstrap=0)["agreement"] - bare()) < 1e-12
    print(
        f"judge score: {full_s * 1e3:.1f} ms, bare loop: {bare_s * 1e3:.1f} ms, "
        f"ratio {full_s / bare_s:.1f}x for {len(rows)} judgments (includes loading the benchmark)"
    )


if __name__ == "__main__":
    main()
