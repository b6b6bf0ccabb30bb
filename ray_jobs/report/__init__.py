"""Reports: the sweep page (report/sweep.py), the compare page (report/compare.py), and the one
table of how numbers look (report/format.py)."""

from .compare import write_compare_report
from .sweep import write_report

__all__ = ["write_compare_report", "write_report"]
