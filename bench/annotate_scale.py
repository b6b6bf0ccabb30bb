"""`judge annotate` at 10,000 and 100,000 rows: the driver's peak memory must not grow with the rows.

    .venv/bin/python -m bench.annotate_scale                   # 10k and 100k rows, the `longer` judge
    .venv/bin/python -m bench.annotate_scale --sizes 10000 1000000

Each size runs in its own process (peak RSS is per process): it writes an input Parquet of N rows
(UltraFeedback's 1,000 training pairs repeated, each with its own id), annotates it with the `longer`
baseline on a local Ray, and reports the driver's peak RSS (ru_maxrss: the driver alone, not Ray's
workers) and rows/s. The last line is the ratio of the largest size's driver peak to the smallest's:
about 1 when the driver holds no rows, N_large / N_small if it held them all.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_input(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = [
        json.loads(line) for line in (ROOT.parent / "shared/data/train/ultrafeedback_sample/train_clean.jsonl").open()
    ]
    with pq.ParquetWriter(
        path, pa.schema([("rid", pa.string()), ("prompt", pa.string()), ("a", pa.string()), ("b", pa.string())])
    ) as out:
        for start in range(0, rows, 10_000):  # written in slices: this process never holds them all either
            ids = range(start, min(rows, start + 10_000))
            out.write_table(
                pa.Table.from_pylist(
                    [
                        {
                            "rid": f"r{i}",
                            "prompt": src[i % 1000]["prompt"],
                            "a": src[i % 1000]["chosen"],
                            "b": src[i % 1000]["rejected"],
                        }
                        for i in ids
                    ]
                )
            )


def one_size(rows: int, work: Path) -> dict:
    """Runs in a child process: annotate the `rows` rows in work/in.parquet; the driver's peak RSS and the rate."""
    from ray_jobs.annotate import AnnotateConfig, run_annotate

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cfg = AnnotateConfig.model_validate(
        {
            "input": {
                "path": str(work / "in.parquet"),
                "columns": {"question": "prompt", "answer1": "a", "answer2": "b"},
                "id": "rid",
            },
            "judge": {"name": "longer", "engine": "baseline", "model": "longer", "concurrency": 2},
            "output": str(work / "out"),
            "shard_rows": 2000,
            "ray_init": {"address": "local", "num_cpus": 2, "include_dashboard": False},
        }
    )
    start = time.perf_counter()
    result = run_annotate(cfg, log=lambda *_: None)
    seconds = time.perf_counter() - start
    import pyarrow.dataset as pads

    out_rows = pads.dataset(work / "out", format="parquet").count_rows()
    return {
        "rows": rows,
        "out_rows": out_rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "driver_peak_mb_before_judging": before / 1024,
        "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "errors": result["errors_now"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(one_size(args.child, Path(args.work))))
        return
    results = []
    for n in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="annotate-bench-"))
        write_input(work / "in.parquet", n)  # here, so the measured driver never held the input
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--work", str(work)],
            capture_output=True,
            text=True,
            env={"RAY_AUTH_MODE": "disabled", **__import__("os").environ},
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(
            f"{n:>9} rows: {r['out_rows']} out, {r['rows_per_s']:.0f} rows/s, "
            f"driver peak RSS {r['driver_peak_mb']:.0f} MB "
            f"({r['driver_peak_mb_before_judging']:.0f} MB before judging), {r['errors']} rows with an error"
        )
    print(
        f"driver peak RSS {results[-1]['rows']} rows / {results[0]['rows']} rows: "
        f"{results[-1]['driver_peak_mb'] / results[0]['driver_peak_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
