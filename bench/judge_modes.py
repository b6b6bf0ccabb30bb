"""Label mode vs generate mode on the same hf engine and model, judging the same examples.

    .venv/bin/python bench/judge_modes.py --n 500

Label mode: one forward pass per prompt (label template). Generate mode: an Auto-J-style critique of
`--critique-tokens` tokens (autoj template, forced length: the model is random). Prints examples/s
of each and the ratio label/generate, which does not depend on the machine's speed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._models import bench_llama  # noqa: E402
from judge_core.data import load  # noqa: E402
from judge_core.pipeline import expand  # noqa: E402
from ray_jobs.engines.base import build_engine  # noqa: E402
from ray_jobs.spec import JudgeSpec  # noqa: E402


def rate(engine, rows, template) -> float:
    engine.judge(rows[:4], template)  # warm-up
    start = time.perf_counter()
    outs = engine.judge(rows, template)
    assert not [o for o in outs if o.get("error")], [o["error"] for o in outs if o.get("error")][:3]
    return len(rows) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--critique-tokens", type=int, default=200)
    p.add_argument("--max-model-len", type=int, default=1024)
    args = p.parse_args()
    model = bench_llama(Path(tempfile.gettempdir()) / "judgeray-bench-llama")
    examples, _ = load("pandalm", "test")
    rows = expand(examples[:args.n], ("ab",))
    opts = {"max_model_len": args.max_model_len, "micro_batch": 16}
    label = build_engine(JudgeSpec(name="l", engine="hf", model=str(model), mode="label", options=opts))
    label_rate = rate(label, rows, "label")
    gen = build_engine(JudgeSpec(name="g", engine="hf", model=str(model), mode="generate",
                                 options=opts | {"max_new_tokens": args.critique_tokens, "min_new_tokens": args.critique_tokens}))
    gen_rate = rate(gen, rows, "autoj")
    print(f"examples: {len(rows)}; label mode {label_rate:.2f}/s; generate mode ({args.critique_tokens}-token "
          f"critique) {gen_rate:.2f}/s; label/generate = {label_rate / gen_rate:.1f}x")


if __name__ == "__main__":
    main()
