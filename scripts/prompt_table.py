"""The prompt experiment's tables from a sweep's results: what each (judge, template, mode) costs and
how it judges, pooled over benchmark subsets.

    .venv/bin/python -m scripts.prompt_table results/prompts-cpu            # Markdown on stdout

Table 1, cost: parse failures (% of judged rows), mean output tokens, seconds per judged row (the
engine's own time, Ray start-up excluded), the share of pairwise examples where the judge picked
whichever answer was shown first in both orders (pure position bias; a content judge is near 0),
rows. Table 2, quality: each subset's headline metric under its paper's protocol with its 95%
bootstrap CI; a label-mode judge also gets a swap-avg row (both orders' probabilities averaged).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

from judge_core import protocols
from ray_jobs.report.format import md_table, with_ci


def cells(results: Path) -> list[dict]:
    out = []
    for path in sorted(results.glob("*/*/*/metrics.json")):
        m = json.loads(path.read_text())
        if "result" not in m:
            continue
        seconds = sum(
            s or 0 for p in (path.parent / "parts").glob("*.parquet") for s in pq.read_table(p)["seconds"].to_pylist()
        )
        judge, template, leaf = m["cell"].split("/")
        mode = m["mode"] if template != "-" else m["engine"]  # a prompted judge has a template
        out.append({"row": (judge, template, mode), "leaf": leaf, "m": m, "seconds": seconds})
        if m.get("result_swapavg"):  # label mode: the two orders' probabilities averaged, position cancelled
            out.append(
                {
                    "row": (judge, template, mode + " swap-avg"),
                    "leaf": leaf,
                    "m": m | {"result": m["result_swapavg"]},
                    "seconds": 0.0,
                    "swapavg": True,
                }
            )
    return out


def cost_table(found: list[dict]) -> str:
    rows = {}
    for c in (c for c in found if not c.get("swapavg")):
        r = rows.setdefault(c["row"], {"rows": 0, "fail": 0, "out": 0, "s": 0.0, "first": 0.0, "pairs": 0})
        r["rows"] += c["m"]["rows"]
        if "prefer_first" in c["m"]["result"]:  # pairwise: picked the first-shown answer in both orders
            r["first"] += c["m"]["result"]["prefer_first"] * c["m"]["rows"]
            r["pairs"] += c["m"]["rows"]
        r["fail"] += c["m"]["result"]["parse_failures"]
        r["out"] += c["m"]["tokens_out"]
        r["s"] += c["seconds"]
    body = [
        [
            *key,
            f"{100 * r['fail'] / r['rows']:.1f}",
            f"{r['out'] / r['rows']:.1f}",
            f"{r['s'] / r['rows']:.2f}",
            f"{100 * r['first'] / r['pairs']:.1f}" if r["pairs"] else "-",
            str(r["rows"]),
        ]
        for key, r in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1]))
    ]
    return md_table(
        ["judge", "template", "mode", "parse fail %", "tokens out", "s / row", "first in both orders %", "rows"], body
    )


SHORT = {
    "arena-train": "Arena",
    "autoj-test": "Auto-J",
    "critiquellm-pairwise-reference-based": "CritiqueLLM pair ref",
    "critiquellm-pairwise-reference-free": "CritiqueLLM pair free",
    "critiquellm-pointwise-reference-based": "CritiqueLLM point ref",
    "critiquellm-pointwise-reference-free": "CritiqueLLM point free",
    "llmbar-gptinst": "GPTInst",
    "llmbar-gptout": "GPTOut",
    "llmbar-manual": "Manual",
    "llmbar-natural": "Natural",
    "llmbar-neighbor": "Neighbor",
    "mtbench-human": "MT-Bench",
    "pandalm-test": "PandaLM",
}


def quality_table(found: list[dict]) -> str:
    leaves = sorted({c["leaf"] for c in found})
    by = {(c["row"], c["leaf"]): c["m"]["result"] for c in found}
    body = []
    for key in sorted({c["row"] for c in found}, key=lambda k: (k[0], k[2], k[1])):
        row = list(key)
        for leaf in leaves:
            r = by.get((key, leaf))
            row.append(with_ci(r, protocols.get(r["protocol"]).headline[0]) if r else "")
        body.append(row)
    protocol_of = {c["leaf"]: protocols.get(c["m"]["result"]["protocol"]) for c in reversed(found)}
    heads = [f"{SHORT.get(leaf, leaf)} ({protocol_of[leaf].headline[0]})" for leaf in leaves]
    return md_table(["judge", "template", "mode", *heads], body)


if __name__ == "__main__":
    found = cells(Path(sys.argv[1]))
    print(cost_table(found), "", quality_table(found), sep="\n")
