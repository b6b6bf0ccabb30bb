"""Prompt template families: `get("label").render(example, "ba")` and `.verdict(text, "ba")`."""

from __future__ import annotations

from . import autoj, judgelm, label, llmbar, mtbench, mtbench_single, pandalm
from .base import LabelSpec, Parsed, Template

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        autoj.TEMPLATE,
        label.TEMPLATE,
        judgelm.TEMPLATE,
        pandalm.TEMPLATE,
        mtbench.TEMPLATE,
        llmbar.TEMPLATE,
        mtbench_single.TEMPLATE,
    )
}

__all__ = ["TEMPLATES", "LabelSpec", "Parsed", "Template", "get"]


def get(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(f"unknown template {name!r}; known: {', '.join(TEMPLATES)}") from None
