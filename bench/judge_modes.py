"""Label mode vs generate mode on the same engine and model, judging the same examples.

    .venv/bin/python -m bench.judge_modes --n 500                     # random model, forced critiques
    .venv/bin/python -m bench.judge_modes --real --n 24 --engine vllm  # SmolLM2-135M-Instruct, real critiques

Label mode: one forward pass per prompt, the verdict read at the first position. Generate mode: a
critique first, then the verdict parsed from it. The random model (PandaLM test pairs, hf engine)
writes `--critique-tokens` tokens exactly (forced: it never stops) after the label template's prompt;
--real judges Auto-J test pairs with Auto-J's own prompt in both modes (label mode reads "So, the final
decision is Response 1 / Response 2 / Tie" at once) and lets SmolLM2 write its critique, up to
`--critique-tokens`. Prints examples/s of each and the ratio label/generate (machine-independent);
with --real also the critiques' mean length, how many parse, and how often the two modes agree.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._models import bench_llama, real_model
from judge_core.data import load
from judge_core.pipeline import expand, to_judgment
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import JudgeSpec


def timed(engine, rows, template) -> tuple[float, list[dict]]:
    engine.judge(rows[:2], template)  # warm-up
    start = time.perf_counter()
    outs = engine.judge(rows, template)
    assert not [o for o in outs if o.get("error")], [o["error"] for o in outs if o.get("error")][:3]
    return len(rows) / (time.perf_counter() - start), outs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--real", action="store_true", help="SmolLM2-135M-Instruct, Auto-J test pairs and prompt")
    p.add_argument("--engine", default="hf", choices=["hf", "vllm"])
    p.add_argument("--critique-tokens", type=int, help="default: 200 (random model, forced), 512 (--real, at most)")
    p.add_argument("--max-model-len", type=int, help="default: 1024 (random model), 2048 (--real)")
    args = p.parse_args()
    if args.real:
        model, benchmark, templates, tokens, max_len = real_model(), ("autoj", "test"), ("autoj", "autoj"), 512, 2048
    else:
        model = str(bench_llama(Path(tempfile.gettempdir()) / "judgeray-bench-llama"))
        benchmark, templates, tokens, max_len = ("pandalm", "test"), ("label", "autoj"), 200, 1024
    tokens, max_len = args.critique_tokens or tokens, args.max_model_len or max_len
    rows = expand(load(*benchmark)[0][: args.n], ("ab",))
    opts = {"max_model_len": max_len, "dtype": "float32", "max_new_tokens": tokens}
    if args.engine == "hf":
        opts["micro_batch"] = 16
    forced = {} if args.real else {"min_new_tokens": tokens}
    spec = JudgeSpec(name="m", engine=args.engine, model=model, mode="label", options=opts)
    label = build_engine(spec)
    label_rate, label_outs = timed(label, rows, templates[0])
    del label
    gen = build_engine(spec.model_copy(update={"mode": "generate", "options": opts | forced}))
    gen_rate, gen_outs = timed(gen, rows, templates[1])
    critique = sum(o["tokens_out"] for o in gen_outs) / len(gen_outs)
    line = (
        f"{len(rows)} {benchmark[0]} prompts, {args.engine} engine, "
        f"{'SmolLM2-135M-Instruct' if args.real else 'random model'}: "
        f"label mode {label_rate:.2f}/s; generate mode ({critique:.0f}-token critiques on average, "
        f"{'at most' if args.real else 'forced'} {tokens}) {gen_rate:.2f}/s"
    )
    if args.real:
        said = [to_judgment(r, o, templates[1], "g").verdict for r, o in zip(rows, gen_outs)]
        read = [to_judgment(r, o, templates[0], "l").verdict for r, o in zip(rows, label_outs)]
        parsed = [i for i, v in enumerate(said) if v is not None]
        line += (
            f"; {len(parsed)} of {len(rows)} critiques parse, label and generate agree on "
            f"{sum(said[i] == read[i] for i in parsed)} of those"
        )
    print(line)
    print(f"label/generate = {label_rate / gen_rate:.1f}x")


if __name__ == "__main__":
    main()
