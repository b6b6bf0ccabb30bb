"""Reports: the sweep page (report/sweep_page.py), the compare page (report/compare_page.py), and the one
table of how numbers look (report/format.py)."""

from .compare_page import write_compare_report
from .sweep_page import write_report

__all__ = ["write_compare_report", "write_report"]
