"""The sweep report: measured rows equal the stored metrics, published rows are marked, the HTML is
one self-contained page (and renders in headless Chromium where it is installed)."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from judge_core.data import load
from judge_core.pipeline import expand, to_judgment
from judge_core.scoring import score_judgments
from ray_jobs.batch.cell_metrics import calibrated, calibration
from ray_jobs.report import write_report

ROOT = Path(__file__).resolve().parents[1]


def _cell(results: Path, judge: str, examples, probs: bool):
    rows = expand(examples, ("ab", "ba"))
    outs = []
    for r, ex in zip(rows, (e for e in examples for _ in (0, 1))):
        shown = ex if r["order"] == "ab" else ex.swapped()
        first = len(shown.answer1) >= len(shown.answer2)
        outs.append(
            {"probs": (0.1, 0.6, 0.3) if first else (0.1, 0.3, 0.6)} if probs else {"verdict": 1 if first else 2}
        )
    js = [to_judgment(r, o, None, judge, allow_tie=False) for r, o in zip(rows, outs)]
    result = score_judgments("llmbar", "natural", js, examples=examples, bootstrap=50)
    metrics = {
        "cell": f"{judge}/-/llmbar-natural",
        "engine": "baseline",
        "model": "longer" if judge == "rule" else "features",
        "mode": "generate",
        "errors": 0,
        "truncated": 0,
        "probabilistic": probs,
        "rows": len(js),
        "result": result,
    } | ({"calibration": calibration(js, examples), "calibrated": calibrated(js, examples)} if probs else {})
    path = results / judge / "-" / "llmbar-natural" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(metrics))
    return metrics


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.external, self.svgs = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.svgs += tag == "svg"
        self.external += [v for k, v in attrs if k in ("src", "href") and v and not v.startswith("#")]
        if tag not in ("meta", "br", "rect", "line", "path"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("rect", "line", "path"):
            return
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_root):
    results = tmp_path_factory.mktemp("results") / "demo"
    examples, _ = load("llmbar", "natural", root=shared_root)
    a = _cell(results, "first-longer", examples, probs=True)
    b = _cell(results, "rule", examples, probs=False)
    (results / "status.json").write_text(  # written before statuses were typed: read the same
        json.dumps({"x/-/llmbar-natural": "failed: OOM", "first-longer/-/llmbar-natural": "ok"})
    )
    return write_report(results), a, b


def test_markdown_rows_carry_the_stored_metrics(report):
    paths, a, _b = report
    md = paths["md"].read_text()
    acc = a["result"]["accuracy"]
    lo, hi = a["result"]["ci95"]["accuracy"]
    assert f"| first-longer | - | baseline | {100 * acc:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]" in md
    assert f"{a['calibration']['ece']:.4f}" in md
    assert "| † GPT-4 (LLMBar Vanilla prompt) (published) | - | - | 95.50 | 95.00 |" in md
    assert "Dataset/LLMBar/Natural/evaluators/GPT-4/Vanilla/statistics.json" in md
    assert "`x/-/llmbar-natural`: OOM" in md
    cal = a["calibrated"]
    assert cal["n_fit"] + cal["n_heldout"] == 100 and cal["after"]["log_loss"] < cal["before"]["log_loss"]
    assert (
        f"| first-longer | - | {cal['temperature']:.3f} | {cal['tie_scale']:.3f} | {cal['n_heldout']} | "
        f"{cal['before']['log_loss']:.4f} → {cal['after']['log_loss']:.4f} |"
    ) in md
    lines = [ln for ln in md.splitlines() if ln.startswith(("| first-longer |", "| rule"))]
    assert len(lines) == 4  # rule's summary row (named the length baseline), two leaderboard rows, one calibration row


def test_the_summary_ranks_every_judge_and_names_no_best_when_they_are_tied(report):
    paths, a, b = report
    md = paths["md"].read_text()
    summary = md[md.index("## Summary") : md.index("## llmbar/natural")]
    acc = a["result"]["accuracy"]
    lo, hi = a["result"]["ci95"]["accuracy"]
    cell = f"**{100 * acc:.2f} [{100 * lo:.2f}, {100 * hi:.2f}]**"
    assert (
        b["result"]["accuracy"] == acc
    )  # the rule judge decides as first-longer's probabilities do: a tie at rank 1.5
    bias = f"{100 * a['result']['prefer_first']:.2f}"
    # the same verdicts on the same examples: tied on every resample, so neither is named best
    longer = a["result"]["length_bias"]  # a judge that always picks the longer answer
    assert longer["judge_longer"] == 100 and longer["value"] == 100 - longer["gold_longer"]
    lo_l, hi_l = longer["ci95"]
    length = f"{longer['value']:+.1f} [{lo_l:+.1f}, {hi_l:+.1f}]"
    assert f"| first-longer ☆ | {cell} | 1.50 | {bias} | {length} | 0.00 | - | 0.0 |" in summary  # equal rank
    assert f"| rule (length baseline) ☆ | {cell} | 1.50 |" in summary
    assert "| · separability (CI pairs apart) | 0.00 |" in summary
    # below the judges, unranked: chance under LLMBar's protocol (no ties, both orders: about 50) and the published row
    chance = a["result"]["chance"]["accuracy"]
    assert abs(chance - 0.5) < 0.02 and f"| · chance (random verdicts) | {100 * chance:.2f} | - |" in summary
    assert "| † GPT-4 (LLMBar Vanilla prompt) (published) | 95.50 | - |" in summary
    assert "<table class=sortable" in paths["html"].read_text() and "<script>" in paths["html"].read_text()
    assert "**No single best judge: 2 are tied for first** ☆ (first-longer, rule)" in summary
    assert "beats rule in only 50% of paired resamples, short of the 95%" in summary
    assert "Best judge: the lowest mean rank" in summary and "**Best judge:" not in summary
    assert "<h2>Summary</h2><p>No single best judge: 2 are tied for first ☆" in paths["html"].read_text()
    assert "<b>" in paths["html"].read_text()  # the column's leaders, bold in HTML too


def test_html_is_one_self_contained_page(report):
    paths, _, _ = report
    checker = _Checker()
    checker.feed(paths["html"].read_text())
    assert checker.stack == [] and checker.external == []
    # the summary's position-bias plot (no cost plot: these cells record no engine time), the leaderboard
    # bars and one reliability diagram (the rule judge has no probabilities)
    assert checker.svgs == 3 and "<h3>Position bias</h3>" in paths["html"].read_text()


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_html_renders_in_headless_chromium(report):
    paths, _, _ = report
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check_report_chromium.sh"), str(paths["html"].parent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 plots (bars, bias, reliability), summary sorted by mean rank yes" in out.stdout, out.stdout
    height = int(out.stdout.split(" px tall")[0].rsplit(" ", 1)[1])
    shots = sorted(paths["html"].parent.glob("report-*.png"))
    assert len(shots) == -(-height // 8000) and all(s.stat().st_size > 10_000 for s in shots)
    broken = paths["html"].parent.parent / "broken"  # a report whose plots are gone fails the check
    broken.mkdir()
    (broken / "report.html").write_text(paths["html"].read_text().replace("data-plot=", "data-x="))
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "check_report_chromium.sh"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "FAILED: plots not drawn: none at all" in out.stdout


def test_a_missing_results_folder_is_named_as_such(tmp_path, capsys):
    from ray_jobs.cli import main

    assert main(["report", str(tmp_path / "does-not-exist")]) == 2
    err = capsys.readouterr().err
    assert f"judge: error: results folder {tmp_path / 'does-not-exist'} not found" in err and "report.md" not in err


def test_banners_say_when_a_run_is_limited_random_or_too_small(tmp_path, shared_root):
    results = tmp_path / "small"
    examples, _ = load("llmbar", "natural", root=shared_root)
    metrics = _cell(results, "tiny", examples[:10], probs=False)
    path = results / "tiny" / "-" / "llmbar-natural" / "metrics.json"
    path.write_text(json.dumps(metrics | {"limit": 10, "available": 100, "random_model": True}))
    md = write_report(results)["md"].read_text()
    lo, hi = metrics["result"]["ci95"]["accuracy"]
    assert hi - lo > 0.2
    assert "> **Limited run:** each cell judged only the first 10 examples of its subset (the first rows" in md
    assert "figures (llmbar/natural 10 of 100)." in md
    assert "> **Random models:** tiny judge with random weights" in md
    assert "> **Wide intervals:** 1 of 1 rows have a 95% CI on their headline metric wider than 20 points" in md
    html_text = (results / "report.html").read_text()
    assert html_text.count("<p class=banner>") == 3
    assert "Limited run" not in (
        _cell(tmp_path / "full", "full", examples, probs=False) and write_report(tmp_path / "full")["md"].read_text()
    )


def test_serve_the_best_judge_a_sweep_found(tmp_path, shared_root):
    from ray_jobs.serve import ServeConfig

    results = tmp_path / "sw"
    examples, _ = load("llmbar", "natural", root=shared_root)
    _cell(results, "first-longer", examples, probs=True)
    rule = _cell(results, "rule", examples, probs=False)
    rule["result"]["accuracy"] = 0.40  # made worse: first-longer must win
    (results / "rule" / "-" / "llmbar-natural" / "metrics.json").write_text(json.dumps(rule))
    with pytest.raises(FileNotFoundError, match=r"holds no sweep\.json"):
        ServeConfig.model_validate({"judge": {"best_of": str(results)}})
    judges = [
        {"name": "first-longer", "engine": "baseline", "model": "features", "options": {"path": "f.joblib"}},
        {"name": "rule", "engine": "baseline", "model": "longer"},
    ]
    (results / "sweep.json").write_text(json.dumps({"name": "sw", "judges": judges}))
    cfg = ServeConfig.model_validate({"judge": {"best_of": str(results)}, "api_key_env": "K"})
    assert cfg.judge.name == "first-longer" and cfg.judge.model == "features"
    assert cfg.picked["judge"] == "first-longer" and cfg.picked["mean_rank"] == 1.0
    assert (
        "first-longer: mean rank 1.00 over 1 subsets" in cfg.picked["why"] and "lowest mean rank" in cfg.picked["why"]
    )
    assert ServeConfig.model_validate(cfg.model_dump()).judge == cfg.judge  # a replica re-validates the dump as is
    assert (
        ServeConfig.model_validate({"judge": {"best_of": str(results), "probabilities": True}}).judge.name
        == "first-longer"
    )
    with pytest.raises(ValueError, match="no eligible judge"):
        ServeConfig.model_validate({"judge": {"best_of": str(results), "adapters": True}})


def test_plots_have_axes_ticks_labels_and_a_reference_line(report):
    from ray_jobs.report.format import bars_svg, bias_svg, cost_svg, reliability_svg

    paths, a, _ = report
    page = paths["html"].read_text()
    chance = a["result"]["chance"]["accuracy"]
    assert f"dashed: {100 * chance:.1f} (chance under llmbar)" in page and "number: examples" in page
    bars = bars_svg([("judge", 56.5, (50.5, 65.9)), ("† GPT-4 (published)", 95.5, None)])
    assert ">0</text>" in bars and ">100</text>" in bars and ">56.5</text>" in bars
    assert "95.5 (no CI published)" in bars and bars.count('stroke="#223"') == 3  # whisker and its two caps
    cost = cost_svg([("fast", 0.003, 2.0), ("slow", 1.3, 1.0)])
    assert cost.count("<circle") == 2 and ">0.001</text>" in cost and ">10</text>" in cost
    bias = bias_svg([("j", 0.25, 0.05)])
    assert "prefer first: 25.0%" in bias and "prefer second: 5.0%" in bias and "follows content: 70.0%" in bias
    bins = a["calibration"]["reliability"]
    svg = reliability_svg(bins)
    assert all(f">{b['count']}</text>" in svg for b in bins if b["count"]) and ">0.5</text>" in svg


def test_best_judge_in_a_run_with_pointwise_subsets():
    from ray_jobs.report.summary import summarise

    def row(judge, template, protocol, key, value):
        return {
            "judge": judge,
            "template": template,
            "mode": "label",
            "swapavg": False,
            "result": {"protocol": protocol, key: value, "n": 4},
            "cell": {"rows": 8},
        }

    table = {
        "llmbar/natural": [row("a", "label", "llmbar", "accuracy", 0.75), row("b", "label", "llmbar", "accuracy", 0.5)],
        "critiquellm-pointwise/reference-free": [row("a", "mtbench-single", "pointwise", "pearson", 0.3)],
    }
    s = summarise(table)
    # the pointwise row ranks 1 on the one subset it judged, but the best judge is the pairwise row that judged
    # every pairwise subset; such rows come first
    assert s["best"]["label"] == "a / label" and [r["label"] for r in s["rows"]] == [
        "a / label",
        "b / label",
        "a / mtbench-single",
    ]


def test_a_calibration_too_small_to_fit_is_listed_with_its_reason(tmp_path, shared_root):
    examples, _ = load("llmbar", "natural", root=shared_root)
    metrics = _cell(tmp_path / "few", "probs", examples[:10], probs=True)
    assert "skipped" in metrics["calibrated"]
    md = write_report(tmp_path / "few")["md"].read_text()
    assert f"| probs | - | - | - | - | not fitted: {metrics['calibrated']['skipped']} | - | - |" in md


def test_a_cell_status_is_typed_and_old_status_files_read_the_same(tmp_path):
    from ray_jobs.store import CellStatus, read_status, status_groups, write_status

    status = {
        "a/-/x": CellStatus(state="ok"),
        "b/-/x": CellStatus(state="ok", reason="skipped 1 bad records"),
        "c/-/x": CellStatus(state="left_out", reason="no adapter: train it first"),
        "d/-/x": CellStatus(state="failed", reason="OOM: out of memory"),
    }
    write_status(tmp_path / "status.json", status)
    assert read_status(tmp_path / "status.json") == status
    assert json.loads((tmp_path / "status.json").read_text())["c/-/x"] == {
        "state": "left_out",
        "reason": "no adapter: train it first",
    }
    legacy = {k: str(s) for k, s in status.items()}  # "ok", "ok: ...", "left out: ...", "failed: ..."
    assert legacy["d/-/x"] == "failed: OOM: out of memory"
    (tmp_path / "old.json").write_text(json.dumps(legacy))
    assert read_status(tmp_path / "old.json") == status
    assert status_groups(status) == (
        ["a/-/x", "b/-/x"],
        {"c/-/x": "no adapter: train it first"},
        {"d/-/x": "OOM: out of memory"},
    )


def _synthetic(results: Path, judge: str, examples, right: float, seed: int):
    """A judge right on a `right` share of the examples (in both orders), wrong on the others."""
    import random

    rng = random.Random(seed)
    correct = {ex.uid: rng.random() < right for ex in examples}
    rows = expand(examples, ("ab", "ba"))
    outs = []
    for r, ex in zip(rows, (e for e in examples for _ in (0, 1))):
        gold = ex.label if r["order"] == "ab" else 3 - ex.label
        outs.append({"verdict": gold if correct[ex.uid] else 3 - gold})
    js = [to_judgment(r, o, None, judge, allow_tie=False) for r, o in zip(rows, outs)]
    result = score_judgments("llmbar", "natural", js, examples=examples, bootstrap=1000)
    cell = {"cell": f"{judge}/-/llmbar-natural", "engine": "hf", "rows": len(js), "errors": 0, "truncated": 0}
    cell |= {"mode": "generate", "probabilistic": False, "result": result}
    path = results / judge / "-" / "llmbar-natural" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(cell))
    return result


def test_a_clearly_better_judge_is_named_best_and_close_ones_are_tied(tmp_path, shared_root):
    """Issue 29: a best judge is named only when it beats the runner-up in 95% of paired resamples."""
    from ray_jobs.report.best import pick_best
    from ray_jobs.report.summary import summarise
    from ray_jobs.report.sweep_page import collect

    examples, _ = load("llmbar", "natural", root=shared_root)  # 100 pairs
    clear = tmp_path / "clear"
    good, poor = _synthetic(clear, "good", examples, 0.9, 1), _synthetic(clear, "poor", examples, 0.55, 2)
    assert good["accuracy"] > 0.8 > 0.65 > poor["accuracy"]
    md = write_report(clear)["md"].read_text()
    assert "**Best judge: good** (mean rank 1.00, ahead of every other in at least 100% of paired resamples) ★" in md
    assert "| · separability (CI pairs apart) | 100.00 |" in md

    close = tmp_path / "close"
    _synthetic(close, "first", examples, 0.72, 3), _synthetic(close, "second", examples, 0.70, 4)
    (close / "sweep.json").write_text(
        json.dumps({"judges": [{"name": n, "engine": "hf", "model": "m"} for n in ("first", "second")]})
    )
    s = summarise(collect(close))
    assert [t["label"] for t in s["tied"]] == [s["best"]["label"], *(r["label"] for r in s["rows"][1:])]
    assert 0.05 < s["confidence"] < 0.95
    md = write_report(close)["md"].read_text()
    assert "**No single best judge: 2 are tied for first** ☆" in md and "★" not in md
    picked = pick_best(close)  # best_of (serve, annotate) follows the same rule, and says how it broke the tie
    assert picked["tied_with"] == [s["rows"][1]["label"]]
    assert "tie was broken by the lower mean rank of the point estimates (1.00 against 2.00)" in picked["why"]


def test_an_undefined_headline_is_not_ranked():
    """A pointwise judge that parsed one score has no correlation (NaN): it is shown '-' and not ranked."""
    from ray_jobs.report.summary import summarise

    def row(judge, value):
        result = {"protocol": "pointwise", "pearson": value, "n": 20}
        return {"judge": judge, "template": "t", "mode": "label", "swapavg": False, "result": result, "cell": {}}

    s = summarise({"critiquellm-pointwise/reference-free": [row("parsed-one", float("nan")), row("ok", -0.2)]})
    ranks = {r["judge"]: r["ranks"] for r in s["rows"]}
    assert ranks == {"ok": {"critiquellm-pointwise/reference-free": 1.0}, "parsed-one": {}}
