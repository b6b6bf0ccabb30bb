"""Ours against what a user would pick instead, on a real model, same prompts, same machine, one run.

    .venv/bin/python -m bench.peers --n 50                 # LLMBar Natural's first 50 pairs, both orders
    .venv/bin/python -m bench.peers --n 150 --benchmark pandalm/test --ways ours-vllm plain-vllm

Every way judges the same rows (the first N pairs of the benchmark in both orders) with the same model
(SmolLM2-135M-Instruct, float32, pulled into models/ on first use) and the same prompt token ids:
judge_core's `label` template with the assistant turn pre-filled with "[", built by the engines' own
prepare(). Each way runs in a fresh process, one after the other:
- ours-vllm, ours-hf: `judge sweep` in label mode (run_sweep: Ray start, Ray Data pipeline, Parquet
  parts, scoring and the report included), reading the label probabilities in one forward pass;
- ray.data.llm: build_processor(vLLMEngineProcessorConfig) on its own local Ray, the prompts as text,
  max_tokens 3, greedy, parsed by the label template (settings of ../shared/CPU-STACK.md, and the
  engine actor given the machine's cores: Ray starts actors with OMP_NUM_THREADS=1);
- plain-vllm: one vllm.LLM.generate over all prompts in this process, max_tokens 1 restricted to the
  label tokens (the floor of overhead for the same work), vLLM's own CPU defaults;
- plain-vllm-tuned: the same with ours' CPU engine settings (vllm_engine.CPU_ENGINE: 32-token KV blocks,
  1024 tokens per step), to show what of ours' lead is settings and what is pipeline;
- hf-generate: the judges' own inference scripts' way (JudgeLM, PandaLM, Auto-J): a transformers
  generate loop, batches of 8 in file order, max_new_tokens 3, greedy;
- the limit: the FLOPs of reading every prompt once (bench/_models.prefill_flops: linear layers,
  attention, the output layer at the last position) over this machine's measured matmul ceiling,
  fp32 and bf16.
Every way's wall clock starts with its process (imports of vLLM, Ray, torch count for everyone; `from
vllm import LLM` alone takes ~12 s here) and stops when its verdicts are in hand.
Prints per way: start-up, steady and wall seconds, examples/s and prompt tokens/s (wall), its
fraction of the fp32 and bf16 limits, its wall time over ours, and how many verdicts differ from
ours; last line:
`ours/ray.data.llm = R.RRx, ours/plain-vllm = R.RRx` (wall time ratios, ours = the faster of ours).
"""

from __future__ import annotations

import time

BORN = time.perf_counter()  # each way's wall clock starts here, with its process: imports count for everyone

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._models import matmul_ceiling, non_embedding_params, prefill_flops

ROOT = Path(__file__).resolve().parents[1]
MODEL = "models/smollm2-135m-instruct"
WAYS = ("ours-vllm", "ours-hf", "ray.data.llm", "plain-vllm", "plain-vllm-tuned", "hf-generate")
MAX_LEN = 2048
# every vLLM here gets ours' settings: a 1 GiB KV cache and the engine core in the calling process (with
# vLLM's default engine-core subprocess, the caller's busy polling takes one of 2 cores)
ENV = {
    "RAY_AUTH_MODE": "disabled",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# ---- the shared prompts ------------------------------------------------------------------------------
def rows_for(benchmark: str, n: int) -> list[dict]:
    from judge_core.data import load
    from judge_core.pipeline import expand
    from judge_core.verdicts import ties_allowed

    name, _, subset = benchmark.partition("/")
    examples = load(name, subset or None)[0][:n]
    return [r | {"allow_tie": ties_allowed(examples)} for r in expand(examples, ("ab", "ba"))]


def prepared(rows: list[dict], tok) -> list[dict]:
    """Each row's prompt as our engines build it: {ids, labels: {verdict: first token id}}."""
    from ray_jobs.engines.prompting import prepare

    return [prepare(r, "label", "label", tok, MAX_LEN, 1) for r in rows]


def key(row: dict) -> str:
    return f"{row['uid']}/{row['order']}"


def label_verdict(prep: dict, token_logprobs: dict[int, float], allow_tie: bool) -> int:
    """The verdict (presented frame) from the label tokens' log-probabilities, by our engines' own rule
    (label_logprobs -> label_probs -> verdict_from_probs)."""
    from judge_core.verdicts import verdict_from_probs
    from ray_jobs.engines.prompting import label_logprobs, label_probs

    return verdict_from_probs(label_probs(label_logprobs(prep, token_logprobs, {})), allow_tie)


def parsed_verdict(text: str) -> int | None:
    from judge_core import prompts

    return prompts.get("label").parse("[" + text).verdict


# ---- the ways (each in its own process) --------------------------------------------------------------
def run_ours(engine: str, args) -> dict:
    import pyarrow.parquet as pq

    from ray_jobs.batch import SweepConfig, run_sweep
    from ray_jobs.spec import JudgeSpec

    out = Path(tempfile.mkdtemp(prefix="peers-"))
    spec = JudgeSpec(
        name=engine,
        engine=engine,
        model=MODEL,
        mode="label",
        batch_size=args.batch_size,
        options={"max_model_len": MAX_LEN, "dtype": "float32"},
    )
    cfg = SweepConfig(
        name="peers",
        output_dir=str(out),
        judges=[spec],
        templates=["label"],
        benchmarks=[args.benchmark],
        limit=args.n,
        bootstrap=0,
        ray_init={"address": "local", "num_cpus": os.cpu_count(), "include_dashboard": False},
    )
    status = run_sweep(cfg, log=lambda *_: None)
    wall = time.perf_counter() - BORN
    assert all(s.ok for s in status.values()), status
    table = pq.read_table(list((out / "peers").glob(f"{engine}/label/*/parts/*.parquet"))).to_pylist()
    flip = {1: 2, 2: 1, 0: 0, None: None}
    verdicts = {f"{r['uid']}/{r['order']}": r["verdict"] if r["order"] == "ab" else flip[r["verdict"]] for r in table}
    steady = sum(r["seconds"] or 0 for r in table)
    return {
        "wall": wall,
        "steady": steady,
        "start": wall - steady,
        "verdicts": verdicts,
        "tokens": sum(r["tokens_in"] for r in table),
    }


def run_plain_vllm(args, tuned: bool = False) -> dict:
    from vllm import LLM, SamplingParams

    from ray_jobs.engines.vllm_engine import CPU_ENGINE

    rows = rows_for(args.benchmark, args.n)
    llm = LLM(
        model=MODEL,
        dtype="float32",
        max_model_len=MAX_LEN,
        enforce_eager=True,
        seed=0,
        logprobs_mode="processed_logprobs",
        **(CPU_ENGINE if tuned else {}),
    )
    started = time.perf_counter()
    preps = prepared(rows, llm.get_tokenizer())
    params = [
        SamplingParams(
            max_tokens=1,
            temperature=0,
            logprobs=len(set(p["labels"].values())),
            allowed_token_ids=sorted(set(p["labels"].values())),
        )
        for p in preps
    ]
    results = llm.generate([{"prompt_token_ids": p["ids"]} for p in preps], sampling_params=params, use_tqdm=False)
    end = time.perf_counter()
    verdicts = {
        key(r): label_verdict(p, {t: lp.logprob for t, lp in res.outputs[0].logprobs[0].items()}, r["allow_tie"])
        for r, p, res in zip(rows, preps, results)
    }
    return {
        "wall": end - BORN,
        "steady": end - started,
        "start": started - BORN,
        "verdicts": verdicts,
        "tokens": sum(len(p["ids"]) for p in preps),
    }


def run_ray_data_llm(args) -> dict:
    import ray
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig
    from transformers import AutoTokenizer

    rows = rows_for(args.benchmark, args.n)
    tok = AutoTokenizer.from_pretrained(MODEL)
    preps = prepared(rows, tok)
    items = [{"key": key(r), "prompt": tok.decode(p["ids"])} for r, p in zip(rows, preps)]
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    light = {"enabled": True, "num_cpus": 0.25, "concurrency": 1}
    config = vLLMEngineProcessorConfig(
        model_source=str(Path(MODEL).resolve()),
        batch_size=args.batch_size,
        concurrency=1,
        engine_kwargs={"dtype": "float32", "max_model_len": MAX_LEN, "enforce_eager": True},
        placement_group_config={"bundles": [{"CPU": 1}]},
        runtime_env={"env_vars": ENV | {"OMP_NUM_THREADS": str(os.cpu_count())}},
        chat_template_stage={"enabled": False},
        tokenize_stage=light,
        detokenize_stage=light,
    )
    processor = build_processor(
        config,
        preprocess=lambda row: {
            "key": row["key"],
            "prompt": row["prompt"],
            "sampling_params": {"max_tokens": 3, "temperature": 0.0},
        },
        postprocess=lambda row: {
            "key": row["key"],
            "text": row["generated_text"],
            "tokens": row.get("num_input_tokens", 0),
        },
    )
    begun = time.perf_counter()
    out = processor(ray.data.from_items(items)).take_all()
    end = time.perf_counter()
    ray.shutdown()
    return {
        "wall": end - BORN,
        "steady": None,
        "start": None,
        "dataset": end - begun,
        "verdicts": {r["key"]: parsed_verdict(r["text"]) for r in out},
        "tokens": sum(len(p["ids"]) for p in preps),
    }


def run_hf_generate(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = rows_for(args.benchmark, args.n)
    torch.set_num_threads(os.cpu_count())
    tok = AutoTokenizer.from_pretrained(MODEL, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32).eval()
    started = time.perf_counter()
    preps = prepared(rows, tok)
    verdicts, batch = {}, 8
    for i in range(0, len(preps), batch):
        chunk = preps[i : i + batch]
        enc = tok.pad({"input_ids": [p["ids"] for p in chunk]}, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
        for r, seq in zip(rows[i : i + batch], out[:, enc["input_ids"].shape[1] :]):
            verdicts[key(r)] = parsed_verdict(tok.decode(seq, skip_special_tokens=True))
    end = time.perf_counter()
    return {
        "wall": end - BORN,
        "steady": end - started,
        "start": started - BORN,
        "verdicts": verdicts,
        "tokens": sum(len(p["ids"]) for p in preps),
    }


def run_way(way: str, args) -> dict:
    runs = {
        "ours-vllm": lambda: run_ours("vllm", args),
        "ours-hf": lambda: run_ours("hf", args),
        "ray.data.llm": lambda: run_ray_data_llm(args),
        "plain-vllm": lambda: run_plain_vllm(args),
        "plain-vllm-tuned": lambda: run_plain_vllm(args, tuned=True),
        "hf-generate": lambda: run_hf_generate(args),
    }
    return runs[way]()


# ---- the limit ---------------------------------------------------------------------------------------
def limit_flops(args) -> tuple[float, int]:
    """(FLOPs of reading every prompt once with no reuse, non-embedding parameters): bench/_models.py."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(MODEL)
    with __import__("torch").device("meta"):
        params = non_embedding_params(AutoModelForCausalLM.from_config(config))
    lengths = [len(p["ids"]) for p in prepared(rows_for(args.benchmark, args.n), AutoTokenizer.from_pretrained(MODEL))]
    return prefill_flops(config, params, lengths), params


# ---- the driver --------------------------------------------------------------------------------------
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50, help="pairs of the benchmark (each judged in both orders)")
    p.add_argument("--benchmark", default="llmbar/natural")
    p.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS)
    p.add_argument("--batch-size", type=int, default=64, help="rows per engine call (ours, ray.data.llm)")
    p.add_argument("--one", choices=WAYS, help=argparse.SUPPRESS)  # internal: run one way, print its JSON
    args = p.parse_args()
    if args.one:
        print("PEERS-RESULT " + json.dumps(run_way(args.one, args)))
        return
    from ray_jobs.models import pull

    if not Path(MODEL).exists():
        pull(Path(MODEL).name, Path(MODEL).parent)
    results = {way: _subprocess(way, args) for way in args.ways}
    report(results, args)


def _subprocess(way: str, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "bench.peers",
        "--one",
        way,
        "--n",
        str(args.n),
        "--benchmark",
        args.benchmark,
        "--batch-size",
        str(args.batch_size),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | ENV, timeout=3600, cwd=ROOT)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("PEERS-RESULT ")]
    if proc.returncode or not line:
        print(f"{way}: failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
        return {}
    return json.loads(line[-1].removeprefix("PEERS-RESULT "))


def report(results: dict, args) -> None:
    flops, params = limit_flops(args)
    fp32, bf16 = matmul_ceiling("float32"), matmul_ceiling("bfloat16")
    bf16_kernel = bf16 > fp32  # without AVX512-BF16 or AMX, bf16 runs on a fallback far below fp32
    ours = min((w for w in ("ours-vllm", "ours-hf") if results.get(w)), key=lambda w: results[w]["wall"], default=None)
    tokens = next(r["tokens"] for r in results.values() if r)
    examples = 2 * args.n
    print(
        f"{args.benchmark}: first {args.n} pairs in both orders = {examples} prompts, {tokens} prompt tokens; "
        f"SmolLM2-135M-Instruct ({params / 1e6:.1f} M non-embedding parameters), float32; {os.cpu_count()} cores"
    )
    print(
        f"limit: {flops / 1e12:.2f} TFLOP to read every prompt once; matmul ceiling {fp32 / 1e9:.0f} GFLOP/s fp32 -> "
        f"{flops / fp32:.1f} s; bf16 {bf16 / 1e9:.0f} GFLOP/s"
        + (f" -> {flops / bf16:.1f} s" if bf16_kernel else " (no bf16 kernel on this CPU: no bf16 column)")
    )
    print(
        f"{'way':17} {'start s':>8} {'steady s':>9} {'wall s':>8} {'ex/s':>6} {'tok/s':>7} {'fp32 lim':>8} "
        f"{'bf16 lim':>8} {'its/ours':>8}  verdicts vs {ours or 'ours'}"
    )
    for way, r in results.items():
        if not r:
            print(f"{way:17} failed")
            continue
        busy = r["steady"] or r.get("dataset") or r["wall"]
        same = _differences(r["verdicts"], results[ours]["verdicts"]) if ours else "-"
        print(
            f"{way:17} {_s(r['start']):>8} {_s(r['steady'] or r.get('dataset')):>9} {r['wall']:8.1f} "
            f"{examples / r['wall']:6.2f} {tokens / r['wall']:7.0f} {flops / busy / fp32:8.2f} "
            f"{_s(flops / busy / bf16 if bf16_kernel else None, 2):>8} "
            f"{_s(r['wall'] / results[ours]['wall'] if ours else None, 2):>7}x  {same}"
        )
    print("(fraction of the limit above 1.00: that way skipped work, prefix-cache hits)")
    if ours:
        ratio = {
            w: results[w]["wall"] / results[ours]["wall"] if results.get(w) else float("nan")
            for w in ("ray.data.llm", "plain-vllm")
        }
        print(f"ours/ray.data.llm = {ratio['ray.data.llm']:.2f}x, ours/plain-vllm = {ratio['plain-vllm']:.2f}x")


def _s(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _differences(theirs: dict, ours: dict) -> str:
    diff = [k for k, v in ours.items() if theirs.get(k) != v]
    unparsed = sum(theirs.get(k) is None for k in diff)
    return (
        "same"
        if not diff
        else f"{len(diff)} of {len(ours)} differ" + (f" ({unparsed} unparsed text)" if unparsed else "")
    )


if __name__ == "__main__":
    main()
