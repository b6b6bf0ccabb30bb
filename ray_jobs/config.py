"""Configs: YAML files with `key=value` overrides (one parser for every verb).

    data = read_config("configs/sweeps/quickstart-cpu.yaml", ["limit=20", "judges.3.batch_size=8"])

Values are parsed as YAML (numbers, lists, null, {a: 1}); a dotted key walks into mappings and,
with an integer step, into lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field

DirName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.+-]+$")]  # a name used as a results directory


def set_dotted(tree: dict, dotted: str, value) -> None:
    """tree[a][b][0][c] = value for "a.b.0.c"; missing mappings are created, list indices must exist."""
    *path, last = dotted.split(".")
    node = tree
    for i, key in enumerate(path + [last]):
        where = ".".join(path[:i]) or "the config"
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ValueError(f"override {dotted}: {where} is a list of {len(node)}; {key!r} is not an index in it")
            key = int(key)
        elif not isinstance(node, dict):
            raise ValueError(f"override {dotted}: {where} is {type(node).__name__}, not a mapping")
        if i == len(path):
            node[key] = value
        else:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """`key=value` overrides applied in order (values parsed as YAML)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} is not key=value")
        set_dotted(data, key.strip(), yaml.safe_load(value))
    return data


def read_config(path: str | Path, overrides: list[str] = ()) -> dict:
    """A YAML mapping with `key=value` overrides."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping, got {type(data).__name__}")
    return apply_overrides(data, list(overrides))
