"""Write a predictions JSONL for `judge score` from the "longer answer wins" rule (both orders).

    .venv/bin/python -m scripts.longer_answer_predictions llmbar --subset natural > longer.jsonl
    .venv/bin/judge score --benchmark llmbar --subset natural --predictions longer.jsonl

A worked example of the predictions format, and the simplest reference judge there is: it never
looks at the question, so any judge worth using must beat it. Equal lengths are a tie.
"""

from __future__ import annotations

import argparse
import json

from judge_core.data import load


def length(text) -> int:
    return len(text) if isinstance(text, str) else sum(map(len, text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark")
    parser.add_argument("--subset")
    parser.add_argument("--root")
    args = parser.parse_args()
    examples, _ = load(args.benchmark, args.subset, root=args.root)
    for ex in examples:
        n1, n2 = length(ex.answer1), length(ex.answer2)
        verdict = 1 if n1 > n2 else 2 if n2 > n1 else 0  # the same in both orders: no position bias
        for order in ("ab", "ba"):
            print(json.dumps({"index": ex.index, "order": order, "verdict": verdict}))


if __name__ == "__main__":
    main()
