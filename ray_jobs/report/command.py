"""`judge report results/<sweep>`: the Markdown and HTML report of a results folder, written again."""

from __future__ import annotations

from .sweep_page import write_report


def add_parser(sub) -> None:
    rp = sub.add_parser("report", help="Markdown + self-contained HTML report of a results directory")
    rp.add_argument("results", help="results/<sweep>")
    rp.set_defaults(func=run)


def run(args) -> int:
    paths = write_report(args.results)
    print(f"{paths['md']}\n{paths['html']}")
    return 0
