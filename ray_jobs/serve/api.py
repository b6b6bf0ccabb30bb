"""What the serving app accepts and answers, without HTTP or Ray: the config, request bodies, their
parsing into judge_core records (4xx reasons), the answer for a pair, and token counting.
ray_jobs/serve/app.py wires these into the Ray Serve deployment.
"""
from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from judge_core import prompts
from judge_core.schema import PairExample, PointExample, Text
from judge_core.verdicts import average_orders, combine_orders, verdict_from_probs

from ..spec import JudgeSpec


class ServeConfig(BaseModel):
    """One judge as an HTTP app (the `args` of a Serve config file)."""

    model_config = ConfigDict(extra="forbid")

    judge: JudgeSpec
    template: str = Field("label", description="pairwise template of prompted judges when a request names none")
    templates: list[str] | None = Field(None, description="templates a request may name (default: template, point_template)")
    point_template: str | None = Field("mtbench-single", description="pointwise template for /v1/score (prompted judges)")
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

    @model_validator(mode="after")
    def _check(self) -> "ServeConfig":
        if self.judge.engine == "ensemble":
            raise ValueError("an ensemble reads stored judgments; serve one of its members")
        for t in self.allowed():
            prompts.get(t)
        if self.point_template and not prompts.get(self.point_template).pointwise:
            raise ValueError(f"point_template {self.point_template} is not pointwise")
        return self

    def allowed(self) -> list[str]:
        if not self.judge.prompted:
            return []
        return self.templates or [t for t in (self.template, self.point_template) if t]


# ---- request bodies ---------------------------------------------------------------------------------
class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Text
    answer1: Text
    answer2: Text
    reference: Text | None = None
    template: str | None = None
    both_orders: bool = Field(False, description="judge both presentation orders; adds swap_consistent")


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Text
    answer: Text
    reference: Text | None = None
    template: str | None = None


class ChatIn(BaseModel):
    """An OpenAI chat-completions body, so the sweep's `openai` engine can point at this app (generate
    mode). Decoding follows the judge's options (greedy, its max_new_tokens): sampling fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    messages: list[dict] = Field(min_length=1)
    model: str | None = None

    @model_validator(mode="after")
    def _roles(self) -> "ChatIn":
        for m in self.messages:
            if m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
                raise ValueError("each message needs a role (system, user, assistant) and a string content")
        return self


class Items(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict] = Field(min_length=1)


class HTTPError(Exception):
    def __init__(self, status: int, detail):
        self.status, self.detail = status, detail


def parse_body(raw: bytes, item: type[BaseModel], max_items: int) -> tuple[list[BaseModel], bool]:
    """(items, single?) from a body that is one item or {"items": [...]}; 422 with pydantic's errors."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPError(422, f"body is not JSON: {exc}") from exc
    single = not (isinstance(data, dict) and "items" in data)
    try:
        items = [data] if single else Items.model_validate(data).items
        if len(items) > max_items:
            raise HTTPError(413, f"{len(items)} items; at most {max_items} per request")
        return [item.model_validate(x) for x in items], single
    except ValidationError as exc:
        raise HTTPError(422, json.loads(exc.json(include_url=False))) from exc


def to_examples(items: list[BaseModel]) -> list[PairExample | PointExample]:
    """Requests as the records batch judging uses (uid serve/request/<i>); 422 on inconsistent turns."""
    out = []
    for i, it in enumerate(items):
        fields = it.model_dump(exclude={"template", "both_orders"})
        try:
            cls = PairExample if isinstance(it, PairIn) else PointExample
            out.append(cls(benchmark="serve", subset="request", index=i, **fields))
        except ValidationError as exc:
            raise HTTPError(422, [{"item": i, **e} for e in json.loads(exc.json(include_url=False))]) from exc
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
    mean = average_orders([ab.probs, ba.probs])
    verdict = combine_orders(ab.verdict, ba.verdict) if mean is None else verdict_from_probs(mean)
    probs = _probs(mean)
    errors = [j.error for j in (ab, ba) if j.error]
    return {"verdict": verdict, "probs": probs, "swap_consistent": ab.verdict == ba.verdict and ab.verdict is not None,
            "orders": one, "error": "; ".join(errors) or None}


def _probs(p):
    return None if p is None else {"tie": p[0], "answer1": p[1], "answer2": p[2]}


# ---- token counting -----------------------------------------------------------------------------------
def token_counter(spec: JudgeSpec):
    """Tokens of a text for the request limit: the judge's own tokenizer where it has one (hf, vllm,
    classifier), whitespace words otherwise (baseline and fake judges read no tokens)."""
    if spec.capability.tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(spec.adapter or spec.model)
        return lambda text: len(tok.encode(text, add_special_tokens=False))
    return lambda text: len(text.split())


def item_tokens(count, item: BaseModel) -> int:
    if isinstance(item, ChatIn):
        return sum(count(m["content"]) for m in item.messages)
    texts = [v for k, v in item.model_dump().items() if k in ("question", "answer", "answer1", "answer2", "reference") and v]
    return sum(count(t) for v in texts for t in ([v] if isinstance(v, str) else v))
