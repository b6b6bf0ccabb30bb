"""The judge behind HTTP on Ray Serve: pairwise verdicts, pointwise scores, batching, API key, limits.

    JUDGE_API_KEY=... judge serve configs/serve/minilm-cpu.yaml          # local Ray, 127.0.0.1:8000
    JUDGE_API_KEY=... serve run configs/serve/minilm-cpu.yaml            # the same file, Serve's CLI

Routes: POST /v1/judge (one pair, or {"items": [...]}), POST /v1/score (pointwise), GET /v1/models,
GET /healthz (the only route without the key). Every request is turned into the same rows as batch
judging (judge_core.pipeline.expand), judged by the same engine call (judge.judge_rows) and parsed by
the same to_judgment, so identical inputs give identical verdicts in both paths. Rows from concurrent
requests are batched by @serve.batch (max_batch_size, batch_wait_timeout_s from the config).
"""
from __future__ import annotations

import asyncio
import collections
import hmac
import json
import os
from typing import Literal

from fastapi import FastAPI, Request  # at module level: FastAPI resolves the routes' annotations here
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from judge_core import prompts
from judge_core.pipeline import expand, to_judgment, verdict_from_probs
from judge_core.schema import PairExample, PointExample, Text

from .engines.base import JudgeSpec


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
    if ab.probs is not None and ba.probs is not None:
        mean = tuple((x + y) / 2 for x, y in zip(ab.probs, ba.probs))
        verdict, probs = verdict_from_probs(mean), _probs(mean)
    elif None in (ab.verdict, ba.verdict):
        verdict, probs = None, None
    else:
        verdict, probs = (ab.verdict if ab.verdict == ba.verdict else 0), None
    errors = [j.error for j in (ab, ba) if j.error]
    return {"verdict": verdict, "probs": probs, "swap_consistent": ab.verdict == ba.verdict and ab.verdict is not None,
            "orders": one, "error": "; ".join(errors) or None}


def _probs(p):
    return None if p is None else {"tie": p[0], "answer1": p[1], "answer2": p[2]}


# ---- token counting -----------------------------------------------------------------------------------
def token_counter(spec: JudgeSpec):
    """Tokens of a text for the request limit: the judge's own tokenizer where it has one (hf, vllm,
    classifier), whitespace words otherwise (baseline and fake judges read no tokens)."""
    if spec.engine in ("hf", "vllm", "classifier"):
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(spec.adapter or spec.model)
        return lambda text: len(tok.encode(text, add_special_tokens=False))
    return lambda text: len(text.split())


def item_tokens(count, item: BaseModel) -> int:
    if isinstance(item, ChatIn):
        return sum(count(m["content"]) for m in item.messages)
    texts = [v for k, v in item.model_dump().items() if k in ("question", "answer", "answer1", "answer2", "reference") and v]
    return sum(count(t) for v in texts for t in ([v] if isinstance(v, str) else v))


# ---- the deployment ---------------------------------------------------------------------------------
def make_app(cfg: ServeConfig):
    """The FastAPI app and the Serve deployment class around it (built lazily: Serve imports only here)."""
    from ray import serve

    from .engines.base import build_engine, preflight
    from .judge import judge_rows

    app = FastAPI(title="judgeray", version="1")

    @app.exception_handler(HTTPError)
    async def _http_error(_request, exc: HTTPError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @serve.deployment
    @serve.ingress(app)
    class JudgeServer:
        def __init__(self, config: dict):
            self.cfg = ServeConfig.model_validate(config)
            self.key = os.environ.get(self.cfg.api_key_env)
            if not self.key:
                raise RuntimeError(f"set {self.cfg.api_key_env} (the API key) in the environment of the Serve replicas")
            preflight(self.cfg.judge)
            self.engine = build_engine(self.cfg.judge)
            self.count = token_counter(self.cfg.judge)
            for method in (self.batched, self.batched_chat):
                method.set_max_batch_size(self.cfg.max_batch_size)
                method.set_batch_wait_timeout_s(self.cfg.batch_wait_timeout_s)
            self.batch_sizes = collections.deque(maxlen=1000)  # recent engine-call sizes (GET /v1/models)

        @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
        async def batched(self, rows: list[dict]) -> list[dict]:
            self.batch_sizes.append(len(rows))
            return await asyncio.to_thread(judge_rows, self.engine, rows)  # keeps the event loop free

        @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
        async def batched_chat(self, conversations: list[list[dict]]) -> list[dict]:
            return await asyncio.to_thread(self.engine.answer, conversations)

        def _auth(self, request: Request) -> None:
            header = request.headers.get("authorization", "")
            if not header:
                raise HTTPError(401, "missing API key: send 'Authorization: Bearer <key>'")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.key.encode()):
                raise HTTPError(403, "invalid API key")

        async def _read(self, request: Request, item: type[BaseModel]):
            self._auth(request)
            size = int(request.headers.get("content-length") or 0)
            raw = b"" if size > self.cfg.max_body_bytes else await request.body()
            if max(size, len(raw)) > self.cfg.max_body_bytes:
                raise HTTPError(413, f"body over {self.cfg.max_body_bytes} bytes")
            items, single = parse_body(raw, item, self.cfg.max_items)
            for i, it in enumerate(items):
                n = item_tokens(self.count, it)
                if n > self.cfg.max_input_tokens:
                    raise HTTPError(413, f"item {i}: {n} tokens of input; at most {self.cfg.max_input_tokens}")
                if isinstance(it, (PairIn, PointIn)) and it.template is not None and it.template not in self.cfg.allowed():
                    raise HTTPError(422, f"item {i}: template {it.template!r} not served; choose from {self.cfg.allowed()}")
            return items, single

        async def _judge(self, items, examples, template_of, orders_of):
            rows = []
            for it, ex in zip(items, examples):
                template = template_of(it)
                rows += [r | {"template": template or "", "allow_tie": True} for r in expand([ex], orders_of(it))]
            try:
                outs = await asyncio.wait_for(asyncio.gather(*[self.batched(r) for r in rows]), self.cfg.timeout_s)
            except asyncio.TimeoutError as exc:
                raise HTTPError(504, f"no answer within {self.cfg.timeout_s} s") from exc
            return [to_judgment(r, o, r["template"] or None, self.cfg.judge.name) for r, o in zip(rows, outs)]

        @app.post("/v1/judge")
        async def judge(self, request: Request):
            items, single = await self._read(request, PairIn)
            examples = to_examples(items)
            judgments = await self._judge(items, examples, lambda it: (it.template or self.cfg.template) if self.cfg.judge.prompted else None,
                                          lambda it: ("ab", "ba") if it.both_orders else ("ab",))
            results = [pair_result([j for j in judgments if j.uid == ex.uid]) for ex in examples]
            return results[0] if single else {"results": results}

        @app.post("/v1/score")
        async def score(self, request: Request):
            if not (self.cfg.judge.prompted and self.cfg.point_template):
                self._auth(request)
                raise HTTPError(404, f"judge {self.cfg.judge.name} ({self.cfg.judge.engine}) scores no single answers")
            items, single = await self._read(request, PointIn)
            judgments = await self._judge(items, to_examples(items), lambda it: it.template or self.cfg.point_template,
                                          lambda it: ("ab",))
            results = [{"score": j.scores[0] if j.scores else None, "raw": j.raw, "error": j.error} for j in judgments]
            return results[0] if single else {"results": results}

        @app.post("/v1/chat/completions")
        async def chat(self, request: Request):
            if self.cfg.judge.engine not in ("hf", "vllm", "openai"):
                self._auth(request)
                raise HTTPError(404, f"judge {self.cfg.judge.name} ({self.cfg.judge.engine}) does not generate text")
            (body,), _ = await self._read(request, ChatIn)
            try:
                out = await asyncio.wait_for(self.batched_chat(body.messages), self.cfg.timeout_s)
            except asyncio.TimeoutError as exc:
                raise HTTPError(504, f"no answer within {self.cfg.timeout_s} s") from exc
            if out.get("error"):
                raise HTTPError(400, out["error"])
            return {"object": "chat.completion", "model": self.cfg.judge.name,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": out["raw"]}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": out.get("tokens_in"), "completion_tokens": out.get("tokens_out")}}

        @app.get("/v1/models")
        async def models(self, request: Request):
            self._auth(request)
            j = self.cfg.judge
            return {"object": "list", "data": [{"id": j.name, "object": "model", "engine": j.engine, "model": j.model,
                                                "adapter": j.adapter, "mode": j.mode, "templates": self.cfg.allowed()}],
                    "batch_sizes": list(self.batch_sizes)}

        @app.get("/healthz")
        async def healthz(self):
            return {"status": "ok", "judge": self.cfg.judge.name}

    return JudgeServer


def build_app(args: dict):
    """Serve's entry point (`import_path: ray_jobs.serve:build_app`): the bound application."""
    cfg = ServeConfig.model_validate(args)
    return make_app(cfg).options(**deployment_options(cfg)).bind(cfg.model_dump())


def deployment_options(cfg: ServeConfig) -> dict:
    """Replicas (fixed or autoscaled) and each replica's resources, from the config."""
    scale = {"num_replicas": cfg.num_replicas} if cfg.autoscaling_config is None else \
        {"autoscaling_config": cfg.autoscaling_config}
    return scale | {"max_ongoing_requests": cfg.max_ongoing_requests,
                    "ray_actor_options": {"num_cpus": cfg.judge.num_cpus, "num_gpus": cfg.judge.num_gpus}}


def read_serve_file(path, overrides: list[str] = ()) -> tuple[dict, dict]:
    """(http_options, args of the first application) of a Serve config file, `key=value` overrides on args."""
    from .sweep import apply_overrides, read_config

    data = read_config(path)
    return data.get("http_options", {}), apply_overrides(data["applications"][0]["args"], overrides)


def serve_main(path: str, overrides: list[str] = (), blocking: bool = True):
    """`judge serve`: start Serve on the file's http_options and run the app (blocks until Ctrl-C)."""
    import ray
    from ray import serve

    http, args = read_serve_file(path, overrides)
    if not ray.is_initialized():
        ray.init()
    serve.start(http_options=http)
    return serve.run(build_app(args), name="judge", route_prefix="/", blocking=blocking)
