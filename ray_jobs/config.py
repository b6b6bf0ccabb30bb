"""Configs: YAML files with `key=value` overrides (one parser for every verb).

    data = read_config("configs/sweeps/quickstart-cpu.yaml", ["limit=20", "judges.3.batch_size=8"])

Values are parsed as YAML (numbers, lists, null, {a: 1}); a dotted key walks into mappings and,
with an integer step, into lists.
"""

from __future__ import annotations

import re
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


# ---- the command line of a verb that takes a config ---------------------------------------------------
ROOT_HELP = "data root (default: $JUDGE_DATA_DIR, ./data, ../shared/data)"
MODIFIED_HELP = (
    "use benchmark files that differ from their pinned sha256 (default: refused, naming both digests); "
    "the result is marked"
)


def add_config_verb(sub, name: str, run, help: str, config_help: str, overrides_help: str, model: str) -> None:
    """A verb that takes a YAML config and `key=value` overrides; `judge NAME --help` ends with the keys
    of its pydantic `model` ("module:Class", imported only when help is asked for). argparse formats
    help with %: a literal % in these texts must be written %%."""
    verb = sub.add_parser(name, help=help, description=help.replace("%%", "%"))  # a description is not %-formatted
    base_help = verb.format_help

    def format_help() -> str:
        import importlib  # the config model's module, only when its help is asked for

        module, cls = model.split(":")
        return base_help() + "\n" + config_keys(getattr(importlib.import_module(module), cls)) + "\n"

    verb.format_help = format_help
    verb.add_argument("config", help=config_help)
    verb.add_argument("overrides", nargs="*", help=f"key=value overrides (values as YAML), {overrides_help}")
    verb.set_defaults(func=run)


def config_keys(model) -> str:
    """The keys of a config model: name, type, default, description (one line each)."""
    lines = [f"config keys ({model.__name__}; a dotted key=value override reaches inside, e.g. judges.0.batch_size=8):"]
    for name, field in model.model_fields.items():
        kind = (
            field.annotation.__name__
            if isinstance(field.annotation, type)
            else re.sub(r"\b(?:[A-Za-z_]\w*\.)+", "", str(field.annotation))
        )  # list[ray_jobs.spec.JudgeSpec] -> list[JudgeSpec]
        default = "required" if field.is_required() else f"default {field.get_default(call_default_factory=True)!r}"
        lines.append(f"  {name} ({kind}; {default}){': ' + field.description if field.description else ''}")
    return "\n".join(lines)
