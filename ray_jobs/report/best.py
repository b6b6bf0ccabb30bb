"""The best judge of a finished sweep, for whoever needs one: `judge serve` and `judge annotate` take
`judge: {best_of: results/<sweep>}` and get it (report/summary.RULE decides).

    best = pick_best("results/quickstart-cpu", probabilities=True)   # {"judge": spec dict, "template", "why", ...}
"""

from __future__ import annotations

import json
from pathlib import Path

from ..locations import resolve
from ..spec import engines
from .summary import RULE, select_best
from .sweep_page import collect


def pick_best(results_dir, probabilities: bool = False, adapters: bool = False) -> dict:
    """The best judge of a finished sweep by RULE, optionally among judges that give probabilities or
    carry a fine-tuned adapter: {"judge": its JudgeSpec as a dict, "template", "swap_averaged",
    "mean_rank", "why"}. The sweep's own sweep.json says what each judge was."""
    results_dir = Path(results_dir)
    if not (results_dir / "sweep.json").is_file():
        raise FileNotFoundError(f"best_of: {results_dir} holds no sweep.json: give the folder a sweep wrote")
    sweep = json.loads((results_dir / "sweep.json").read_text())
    specs = {j["name"]: j for j in sweep["judges"]}

    def eligible(row: dict) -> bool:
        spec = specs.get(row["judge"], {})
        return (
            bool(spec)
            and spec.get("engine") in engines()  # a judge that runs (an ensemble reads stored judgments)
            and (not probabilities or row["cell"].get("probabilistic"))
            and (not adapters or bool(spec.get("adapter")) or spec.get("engine") == "classifier")
        )

    best = select_best(collect(results_dir), eligible)
    if best is None:
        raise ValueError(
            f"best_of: no eligible judge in {results_dir} judged every pairwise subset "
            f"(probabilities={probabilities}, adapters={adapters})"
        )
    filters = [w for w, on in (("giving probabilities", probabilities), ("with an adapter", adapters)) if on]
    tied = best.get("tied") or []
    return {
        "tied_with": [t["label"] for t in tied[1:]],
        "judge": specs[best["judge"]],
        "template_files": sweep.get("template_files", {}),
        "template": best["template"],
        "swap_averaged": best["swap_averaged"],
        "mean_rank": best["mean_rank"],
        "why": f"{best['label']}: mean rank {best['mean_rank']:.2f} over {len(best['ranks'])} subsets of {results_dir}"
        + (f" among judges {' and '.join(filters)}" if filters else "")
        + f". {_tie_note(best, tied)}{RULE}",
    }


def _tie_note(best: dict, tied: list[dict]) -> str:
    """What a pick had to do when the numbers could not tell the first judges apart."""
    if best.get("tied") is None:
        return "Not tested against the runner-up (the cells hold no bootstrap draws). "
    if len(tied) < 2:
        return ""
    second = tied[1]
    if best["mean_rank"] != second["mean_rank"]:
        by = f"the lower mean rank of the point estimates ({best['mean_rank']:.2f} against {second['mean_rank']:.2f})"
    elif best["seconds"] != second["seconds"]:
        by = "fewer seconds per row"
    else:
        by = "name"
    names = ", ".join(t["label"] for t in tied[1:])
    return (
        f"It is tied for first with {names}: it beats {best['closest']['label']} in only "
        f"{best['confidence']:.0%} of paired resamples, so the tie was broken by {by}. "
    )


def resolve_best_of(data):
    """A config whose judge is {best_of: results/<sweep>, probabilities: bool, adapters: bool}, with that
    sweep's best judge (RULE) in its place, its template, and `picked` saying which and why (serve,
    annotate); any other config as it is."""
    judge = data.get("judge") if isinstance(data, dict) else None
    if not isinstance(judge, dict) or "best_of" not in judge:
        return data

    unknown = set(judge) - {"best_of", "probabilities", "adapters"}
    if unknown:
        raise ValueError(f"judge.best_of takes best_of, probabilities, adapters; not {sorted(unknown)}")
    best = pick_best(resolve(judge["best_of"]), judge.get("probabilities", False), judge.get("adapters", False))
    picked = {
        "judge": best["judge"]["name"],
        "template": best["template"],
        "swap_averaged": best["swap_averaged"],
        "mean_rank": best["mean_rank"],
        "tied_with": best["tied_with"],
        "why": best["why"],
    }
    carried = {"template_files": best["template_files"]} if best["template_files"] else {}
    return (
        data
        | {"judge": best["judge"], "picked": picked}
        | ({"template": best["template"]} if best["template"] else {})
        | carried
    )
