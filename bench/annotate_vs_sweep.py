"""`judge annotate` against `judge sweep` on the same rows with the same judge: rows/s of each, and the ratio.

    .venv/bin/python -m bench.annotate_vs_sweep                     # 2,000 rows, SmolLM2 in label mode
    .venv/bin/python -m bench.annotate_vs_sweep --rows 200 --orders both

The rows are PandaLM's test pairs (the 993 without an empty answer) repeated (each with its own id) to --rows,
written once as Parquet; the sweep reads it as an unlabelled dataset of your own, annotate as its input. Both verbs run
from the command line (local Ray, one engine actor, the model loaded once), timed from start to exit,
so each pays its own start. The last line is annotate rows/s / sweep rows/s: about 1 means streaming
to shards costs nothing next to the judging.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_rows(path: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from judge_core.data import load

    pairs = [e for e in load("pandalm")[0] if e.answer1.strip() and e.answer2.strip()]  # yours may not be empty
    pq.write_table(
        pa.Table.from_pylist(
            [
                {
                    "rid": f"p{i}",
                    "prompt": pairs[i % len(pairs)].question,
                    "a": pairs[i % len(pairs)].answer1,
                    "b": pairs[i % len(pairs)].answer2,
                }
                for i in range(n)
            ]
        ),
        path,
    )


def timed(verb: str, cfg: dict, work: Path) -> float:
    path = work / f"{verb}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = os.environ | {"RAY_AUTH_MODE": "disabled"}
    start = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/judge"), verb, str(path)], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    from bench._models import real_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--orders", choices=("ab", "both"), default="ab")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="annotate-vs-sweep-"))
    write_rows(work / "rows.parquet", args.rows)
    judge = {"name": "smollm2", "engine": "hf", "model": real_model(), "mode": "label", "batch_size": 16}
    columns = {"question": "prompt", "answer1": "a", "answer2": "b"}
    ray = {"address": "local", "include_dashboard": False}
    sweep = timed(
        "sweep",
        {
            "name": "s",
            "output_dir": str(work),
            "judges": [judge],
            "templates": ["label"],
            "benchmarks": [{"name": "rows", "path": str(work / "rows.parquet"), "columns": columns}],
            "orders": args.orders,
            "bootstrap": 0,
            "ray_init": ray,
        },
        work,
    )
    annotate = timed(
        "annotate",
        {
            "input": {"path": str(work / "rows.parquet"), "columns": columns, "id": "rid"},
            "judge": judge,
            "template": "label",
            "orders": args.orders,
            "output": str(work / "annotated"),
            "shard_rows": 250,
            "ray_init": ray,
        },
        work,
    )
    print(f"{args.rows} rows, orders {args.orders}, SmolLM2-135M-Instruct label mode, hf engine, one actor:")
    print(f"judge sweep:    {sweep:7.1f} s  {args.rows / sweep:6.2f} rows/s")
    print(f"judge annotate: {annotate:7.1f} s  {args.rows / annotate:6.2f} rows/s")
    print(f"annotate / sweep rows/s: {sweep / annotate:.2f}")


if __name__ == "__main__":
    main()
