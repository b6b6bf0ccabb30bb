"""What the serving app accepts and answers, without HTTP or Ray: the config, request bodies, their
parsing into judge_core records (4xx reasons), the answer for a pair, OpenAI chat completions (whole
and streamed), and token counting. ray_jobs/serve/app.py wires these into the Ray Serve deployment.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from judge_core import prompts
from judge_core.schema import PairExample, PointExample, Text
from judge_core.verdicts import both_orders

from ..report.best import resolve_best_of
from ..spec import JudgeSpec, carry_templates, template_files


class ServeConfig(BaseModel):
    """One judge as an HTTP app (the `args` of a Serve config file)."""

    model_config = ConfigDict(extra="forbid")

    judge: JudgeSpec
    template: str = Field("label", description="pairwise template of prompted judges when a request names none")
    templates: list[str] | None = Field(
        None, description="templates a request may name (default: template, point_template)"
    )
    point_template: str | None = Field(
        "mtbench-single", description="pointwise template for /v1/score (prompted judges)"
    )
    api_key_env: str = Field("JUDGE_API_KEY", description="environment variable holding the key (never the key itself)")
    max_body_bytes: int = Field(1_000_000, ge=1, description="larger bodies get 413")
    max_items: int = Field(64, ge=1, description="pairs or answers per request; more get 413")
    max_input_tokens: int = Field(8192, ge=1, description="tokens of an item's texts (judge's tokenizer); more get 413")
    timeout_s: float = Field(120, gt=0, description="a request still unanswered after this gets 504")
    max_batch_size: int = Field(16, ge=1, description="rows per engine call across concurrent requests (@serve.batch)")
    batch_wait_timeout_s: float = Field(0.01, ge=0, description="how long a batch waits to fill")
    num_replicas: int | Literal["auto"] = 1
    autoscaling_config: dict | None = Field(None, description="Serve autoscaling (min_replicas, max_replicas, ...)")
    max_ongoing_requests: int = Field(64, ge=1)
    picked: dict | None = Field(None, description="set by judge: {best_of: ...}: which judge was picked and why")
    template_files: dict[str, dict] = Field(
        default_factory=dict, description="set at load: the content of its file templates (replicas load them)"
    )

    @model_validator(mode="before")
    @classmethod
    def _best_of(cls, data):
        """judge: {best_of: results/<sweep>, probabilities: bool, adapters: bool} serves that sweep's best
        judge (report/summary.RULE) with its template; `picked` says which and why (GET /v1/models).
        Template files (.yaml, or mappings) become names, their content carried in template_files."""

        return carry_templates(resolve_best_of(data), ("template", "templates", "point_template"))

    @model_validator(mode="after")
    def _check(self) -> ServeConfig:
        for t in self.allowed():
            prompts.get(t)
        self.template_files = template_files([self.template, self.point_template, *(self.templates or [])])
        if self.point_template and not prompts.get(self.point_template).pointwise:
            raise ValueError(f"point_template {self.point_template} is not pointwise")
        return self

    def allowed(self) -> list[str]:
        if not self.judge.prompted:
            return []
        return self.templates or [t for t in (self.template, self.point_template) if t]


# ---- request bodies ---------------------------------------------------------------------------------
# Strict: a boolean is true or false (not "yes", not 1), a text is a string, a number is finite; every
# field is declared (extra="forbid"), so nothing a client sends is dropped silently.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class PairIn(BaseModel):
    model_config = STRICT

    question: Text
    answer1: Text
    answer2: Text
    reference: Text | None = None
    template: str | None = None
    both_orders: bool = Field(False, description="judge both presentation orders; adds swap_consistent")


class PointIn(BaseModel):
    model_config = STRICT

    question: Text
    answer: Text
    reference: Text | None = None
    template: str | None = None


class Items(BaseModel):
    model_config = STRICT

    items: list[dict] = Field(min_length=1)


class TextPart(BaseModel):
    model_config = STRICT

    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = STRICT

    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts_only(cls, content):
        """A judge reads text: an image or audio part is refused by its type, not failed on as a union."""
        for part in content if isinstance(content, list) else ():
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            if kind != "text":
                raise ValueError(f"content part type {kind!r} is not supported: this judge reads text parts only")
        return content

    def text(self) -> str:
        """The content as one string; text parts joined by newlines, as vLLM joins them."""
        return self.content if isinstance(self.content, str) else "\n".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    model_config = STRICT

    include_usage: bool = False
    include_obfuscation: bool | None = None  # accepted; the chunks carry no padding to obfuscate


# Fields of OpenAI's chat body that would change what is answered, which this judge cannot do:
# refused when given (not null), so a client never mistakes a plain answer for what it asked.
UNSUPPORTED = (
    "top_logprobs",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "parallel_tool_calls",
    "logit_bias",
    "audio",
    "prediction",
)


class ChatIn(BaseModel):
    """An OpenAI chat-completions body, so the sweep's `openai` engine and OpenAI's own clients can
    point at this app. The judge's decoding options rule: it answers greedily with its own
    max_new_tokens, so the sampling fields (temperature, top_p, seed, presence_penalty,
    frequency_penalty, max_tokens, max_completion_tokens, stop) and the bookkeeping ones (user,
    metadata, store, model) are accepted and do not change the answer. What would change the answer
    and cannot be done (n > 1, log-probabilities, tools, JSON output, other modalities, ...) is a 422
    naming the field; so is any field OpenAI does not define."""

    model_config = STRICT

    messages: list[Message] = Field(min_length=1)
    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    logprobs: bool | None = None
    response_format: dict | None = None
    modalities: list[str] | None = None
    # accepted, overridden by the judge's greedy decoding
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    # refused when given
    top_logprobs: Any = None
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None
    parallel_tool_calls: Any = None
    logit_bias: Any = None
    audio: Any = None
    prediction: Any = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int) -> int:
        if n != 1:
            raise ValueError(f"n={n} is not supported: the judge gives one greedy answer (n=1)")
        return n

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, logprobs: bool | None) -> bool | None:
        if logprobs:
            raise ValueError("logprobs is not supported by this endpoint")
        return logprobs

    @field_validator("response_format")
    @classmethod
    def _text_format(cls, fmt: dict | None) -> dict | None:
        if fmt not in (None, {"type": "text"}):
            raise ValueError("response_format other than {'type': 'text'} is not supported")
        return fmt

    @field_validator("modalities")
    @classmethod
    def _text_modality(cls, modalities: list[str] | None) -> list[str] | None:
        if modalities not in (None, ["text"]):
            raise ValueError("modalities other than ['text'] are not supported")
        return modalities

    @field_validator(*UNSUPPORTED)
    @classmethod
    def _unsupported(cls, value, info: ValidationInfo):
        if value is not None:
            raise ValueError(f"{info.field_name} is not supported by this judge")
        return value

    def conversation(self) -> list[dict]:
        """The messages as the engines' answer() reads them: role and one string content."""
        return [{"role": m.role, "content": m.text()} for m in self.messages]


class HTTPError(Exception):
    def __init__(self, status: int, detail):
        self.status, self.detail = status, detail


def read_json(raw: bytes):
    """The body as Python values, read by pydantic's JSON parser rather than the json module: NaN and
    Infinity, lone surrogates, invalid UTF-8, integers over 4300 digits and nesting deeper than 200
    are refused here (422); the json module lets them through to fail later as a 500."""
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise HTTPError(422, f"body is not JSON: {exc}") from exc


def validation_errors(exc: ValidationError) -> list[dict]:
    """pydantic's errors as JSON values, without the offending input: a hostile value (a 5,000-digit
    number, an infinity) echoed back could break the JSON answer itself."""
    return json.loads(exc.json(include_url=False, include_input=False))


def parse_body(raw: bytes, item: type[BaseModel], max_items: int) -> tuple[list[BaseModel], bool]:
    """(items, single?) from a body that is one item or {"items": [...]}; 422 with pydantic's errors."""
    data = read_json(raw)
    single = not (isinstance(data, dict) and "items" in data)
    try:
        items = [data] if single else Items.model_validate(data).items
        if len(items) > max_items:
            raise HTTPError(413, f"{len(items)} items; at most {max_items} per request")
        return [item.model_validate(x) for x in items], single
    except ValidationError as exc:
        raise HTTPError(422, validation_errors(exc)) from exc


def parse_chat(raw: bytes) -> ChatIn:
    """The one chat body of a request (no {"items": [...]} form); 422 with pydantic's errors."""
    try:
        return ChatIn.model_validate(read_json(raw))
    except ValidationError as exc:
        raise HTTPError(422, validation_errors(exc)) from exc


def to_examples(items: list[BaseModel]) -> list[PairExample | PointExample]:
    """Requests as the records batch judging uses (uid serve/request/<i>); 422 on inconsistent turns."""
    out = []
    for i, it in enumerate(items):
        fields = it.model_dump(exclude={"template", "both_orders"})
        try:
            cls = PairExample if isinstance(it, PairIn) else PointExample
            out.append(cls(benchmark="serve", subset="request", index=i, **fields))
        except ValidationError as exc:
            raise HTTPError(422, [{"item": i, **e} for e in validation_errors(exc)]) from exc
    return out


def pair_result(judgments: list) -> dict:
    """The answer for one pair: verdict (original answer order), probs (p_tie, p1, p2) where the
    engine gives them, raw text in generate mode, error; with both orders, each order's judgment,
    swap_consistent, and the combined verdict (averaged probabilities, else the agreed verdict, a
    tie when the orders disagree: FastChat's rule)."""
    by = {j.order: j for j in judgments}
    one = {o: {"verdict": j.verdict, "probs": _probs(j.probs), "raw": j.raw, "error": j.error} for o, j in by.items()}
    if len(by) == 1:
        return one["ab"]
    ab, ba = by["ab"], by["ba"]
    verdict, mean = both_orders(ab.verdict, ba.verdict, ab.probs, ba.probs)
    probs = _probs(mean)
    errors = [j.error for j in (ab, ba) if j.error]
    return {
        "verdict": verdict,
        "probs": probs,
        "swap_consistent": ab.verdict == ba.verdict and ab.verdict is not None,
        "orders": one,
        "error": "; ".join(errors) or None,
    }


def _probs(p):
    return None if p is None else {"tie": p[0], "answer1": p[1], "answer2": p[2]}


# ---- OpenAI chat completions ----------------------------------------------------------------------------
def chat_completion(out: dict, model: str) -> dict:
    """OpenAI's chat.completion for an engine's answer {raw, tokens_in, tokens_out}."""
    return _completion_head(model, "chat.completion") | {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": out["raw"]},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(out),
    }


def chat_stream(out: dict, model: str, include_usage: bool) -> Iterator[str]:
    """The same answer as server-sent events in OpenAI's chunk format: the whole content in one delta
    (the engines answer at once), a chunk with finish_reason, the usage chunk when asked, [DONE]."""
    head = _completion_head(model, "chat.completion.chunk") | ({"usage": None} if include_usage else {})

    def chunk(delta: dict, finish_reason: str | None) -> dict:
        return head | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

    chunks = [chunk({"role": "assistant", "content": out["raw"]}, None), chunk({}, "stop")]
    if include_usage:
        chunks.append(head | {"choices": [], "usage": _usage(out)})
    for c in chunks:
        yield f"data: {json.dumps(c)}\n\n"
    yield "data: [DONE]\n\n"


def _completion_head(model: str, kind: str) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()), "model": model}


def _usage(out: dict) -> dict:
    prompt, completion = out.get("tokens_in") or 0, out.get("tokens_out") or 0  # an engine may not count
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def openai_error(status: int, detail) -> dict:
    """OpenAI's error object for a refusal, so its clients show the reason and `param` names the
    field (the first one pydantic reports)."""
    if isinstance(detail, list):
        where = [".".join(str(p) for p in e.get("loc", ())) for e in detail]
        message = "; ".join(f"{w}: {e.get('msg')}" for w, e in zip(where, detail))
        param = where[0] if where else None
    else:
        message, param = str(detail), None
    return {
        "message": message,
        "type": "invalid_request_error" if status < 500 else "server_error",
        "param": param,
        "code": None,
    }


# ---- token counting -----------------------------------------------------------------------------------
def token_counter(spec: JudgeSpec):
    """Tokens of a text for the request limit: the judge's own tokenizer where it has one (hf, vllm,
    classifier), whitespace words otherwise (baseline and fake judges read no tokens)."""
    if spec.capability.tokenizer:
        from transformers import AutoTokenizer  # heavy: kept out of `judge --help`

        tok = AutoTokenizer.from_pretrained(spec.adapter or spec.model)
        return lambda text: len(tok.encode(text, add_special_tokens=False))
    return lambda text: len(text.split())


def item_tokens(count, item: BaseModel) -> int:
    if isinstance(item, ChatIn):
        return sum(count(m["content"]) for m in item.conversation())
    texts = [
        v for k, v in item.model_dump().items() if k in ("question", "answer", "answer1", "answer2", "reference") and v
    ]
    return sum(count(t) for v in texts for t in ([v] if isinstance(v, str) else v))
