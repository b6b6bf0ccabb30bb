"""Prompt template families: `get("label").render(example, "ba")` and `.verdict(text, "ba")`; a user's
own templates from YAML files (`load("configs/templates/prometheus-absolute.yaml")`, prompts/files.py)."""

from __future__ import annotations

import hashlib
import json

from . import autoj, judgelm, label, llmbar, mtbench, mtbench_single, pandalm
from .base import LabelSpec, Parsed, Template
from .files import TemplateFile, build_template, definition

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

__all__ = [
    "TEMPLATES",
    "LabelSpec",
    "Parsed",
    "Template",
    "file_digest",
    "file_templates",
    "get",
    "hashed",
    "load",
    "register_all",
    "template_name",
]


def get(name: str) -> Template:
    """A built-in template, or a file template registered in this process (load)."""
    found = TEMPLATES.get(name) or (_FILES[name][1] if name in _FILES else None)
    if found is None:
        raise KeyError(f"unknown template {name!r}; known: {', '.join(TEMPLATES)}, or a .yaml template file")
    return found


# ---- file templates registered in this process (prompts/files.py) -------------------------------------
_FILES: dict[str, tuple[TemplateFile, Template]] = {}


def load(ref: str | dict) -> str:
    """Check and register a template file or mapping; its name. Registering the same name twice
    with different content is refused."""
    spec = definition(ref)
    if spec.name in TEMPLATES:
        raise ValueError(f"template {spec.name!r} is a built-in template's name; name yours otherwise")
    known = _FILES.get(spec.name)
    if known is not None and known[0] != spec:
        raise ValueError(f"two different templates are named {spec.name!r}")
    if known is None:
        _FILES[spec.name] = (spec, build_template(spec))
    return spec.name


def file_templates() -> dict[str, dict]:
    """{name: content} of every file template registered here: what actors in other processes load."""
    return {name: spec.model_dump(mode="json") for name, (spec, _) in _FILES.items()}


def register_all(templates: dict[str, dict]) -> None:
    for content in templates.values():
        load(content)


def file_digest(name: str) -> str | None:
    """A file template's content digest (a cell's hash holds it); None for a built-in template."""
    entry = _FILES.get(name)
    if entry is None:
        return None
    return hashlib.sha256(json.dumps(entry[0].model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def hashed(name: str, parse: str | None, reads_text: bool = True) -> dict:
    """What stored judgments by template `name` depend on beyond its name (a sweep cell's hash, an
    annotation's fingerprint): a file template's content, and, for a judge whose text is parsed
    (`reads_text`: generate mode; label mode reads probabilities), the parse rule where the template
    reads some outputs otherwise than the strict rule every judgment before the source rules was read by."""
    digest = file_digest(name)
    rule = get(name).parse_key(parse) if reads_text else {}
    return rule | ({"template_file": digest} if digest else {})


def template_name(entry: str | dict) -> str:
    """A config's template entry as a template name: a built-in name, a path to a .yaml/.yml file, or
    a mapping (loaded and registered here)."""
    if isinstance(entry, dict) or entry.endswith((".yaml", ".yml")):
        return load(entry)
    return entry
