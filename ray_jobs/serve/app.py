"""The judge behind HTTP on Ray Serve: pairwise verdicts, pointwise scores, batching, API key, limits.

    JUDGE_API_KEY=... judge serve configs/serve/minilm-cpu.yaml          # local Ray, 127.0.0.1:8000
    JUDGE_API_KEY=... serve run configs/serve/minilm-cpu.yaml            # the same file, Serve's CLI

Routes: POST /v1/judge (one pair, or {"items": [...]}), POST /v1/score (pointwise), POST
/v1/chat/completions (OpenAI-compatible, whole or streamed, for the sweep's openai engine and OpenAI's
clients), GET /v1/models, GET /healthz (the only route without the key: no /docs, /redoc or
/openapi.json either). Bodies, limits and answers are defined in serve/api.py. Every
request is turned into the same rows as batch judging (judge_core.pipeline.expand), judged by the
same engine call (batch.stages.judge_rows) and parsed by the same to_judgment, so identical inputs
give identical verdicts in both paths. Rows from concurrent requests are batched by @serve.batch
(max_batch_size, batch_wait_timeout_s from the config).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import os
import time
from pathlib import Path

from fastapi import FastAPI, Request  # at module level: FastAPI resolves the routes' annotations here
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from ray import serve

from judge_core.pipeline import expand, to_judgment

from .. import console
from ..batch.stages import judge_rows
from ..config import apply_overrides, read_config
from ..engines.base import build_engine
from ..locations import is_uri, results_location
from ..ray_lifecycle import ensure_ray
from ..spec import preflight
from .api import (
    HTTPError,
    PairIn,
    PointIn,
    ServeConfig,
    chat_completion,
    chat_stream,
    item_tokens,
    openai_error,
    pair_result,
    parse_body,
    parse_chat,
    to_examples,
    token_counter,
)

# No docs or schema routes: they would answer without the key, and only /healthz is open.
app = FastAPI(title="judgeray", version="1", docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(HTTPError)
async def _http_error(request: Request, exc: HTTPError):
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = {"detail": exc.detail}
    if request.url.path.endswith("/chat/completions"):  # OpenAI's clients read `error` (message, param)
        body["error"] = openai_error(exc.status, exc.detail)
    return JSONResponse(body, status_code=exc.status, headers=headers)


@serve.deployment
@serve.ingress(app)
class JudgeServer:
    """One replica: the judge's engine, its tokenizer for the limits, and the batch queues."""

    def __init__(self, config: dict):
        self.cfg = ServeConfig.model_validate(config)
        self.key = os.environ.get(self.cfg.api_key_env)
        if not self.key:
            raise RuntimeError(f"set {self.cfg.api_key_env} (the API key) in the environment of the Serve replicas")
        preflight(self.cfg.judge)
        self.engine, self.count = build_engine(self.cfg.judge), token_counter(self.cfg.judge)
        for method in (self.batched, self.batched_chat):
            method.set_max_batch_size(self.cfg.max_batch_size)
            method.set_batch_wait_timeout_s(self.cfg.batch_wait_timeout_s)
        self.batch_sizes = collections.deque(maxlen=1000)  # recent engine-call sizes (GET /v1/models)

    # ---- the engine, batched across requests -----------------------------------------------------------
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def batched(self, rows: list[dict]) -> list[dict]:
        self.batch_sizes.append(len(rows))
        return await asyncio.to_thread(judge_rows, self.engine, rows)  # keeps the event loop free

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def batched_chat(self, conversations: list[list[dict]]) -> list[dict]:
        return await asyncio.to_thread(self.engine.answer, conversations)

    async def _in_time(self, awaitable):
        try:
            return await asyncio.wait_for(awaitable, self.cfg.timeout_s)
        except asyncio.TimeoutError as exc:
            raise HTTPError(504, f"no answer within {self.cfg.timeout_s} s") from exc

    # ---- requests -----------------------------------------------------------------------------------
    def _auth(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header:
            raise HTTPError(401, "missing API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.key.encode()):
            raise HTTPError(403, "invalid API key")

    async def _body(self, request: Request) -> bytes:
        """The raw body of an authorised request within the size limit."""
        self._auth(request)
        size = int(request.headers.get("content-length") or 0)
        raw = b"" if size > self.cfg.max_body_bytes else await request.body()
        if max(size, len(raw)) > self.cfg.max_body_bytes:
            raise HTTPError(413, f"body over {self.cfg.max_body_bytes} bytes")
        return raw

    async def _read(self, request: Request, item: type[BaseModel]):
        """(items, single?) of an authorised body within the size, item and token limits."""
        items, single = parse_body(await self._body(request), item, self.cfg.max_items)
        for i, it in enumerate(items):
            self._check_item(i, it)
        return items, single

    def _check_item(self, i: int, item: BaseModel) -> None:
        n = item_tokens(self.count, item)
        if n > self.cfg.max_input_tokens:
            raise HTTPError(413, f"item {i}: {n} tokens of input; at most {self.cfg.max_input_tokens}")
        if (
            isinstance(item, (PairIn, PointIn))
            and item.template is not None
            and item.template not in self.cfg.allowed()
        ):
            raise HTTPError(422, f"item {i}: template {item.template!r} not served; choose from {self.cfg.allowed()}")

    async def _judge(self, items, examples, template_of, orders_of):
        """Judgments (original frame) of every item's rows, through the batch queue."""
        rows = [
            r | {"template": template_of(it) or "", "allow_tie": True}
            for it, ex in zip(items, examples)
            for r in expand([ex], orders_of(it))
        ]
        outs = await self._in_time(asyncio.gather(*[self.batched(r) for r in rows]))
        judge = self.cfg.judge
        return [to_judgment(r, o, r["template"] or None, judge.name, parse=judge.parse) for r, o in zip(rows, outs)]

    def _refuse(self, request: Request, why: str) -> None:
        self._auth(request)  # a caller without the key learns nothing about the judge
        raise HTTPError(404, f"judge {self.cfg.judge.name} ({self.cfg.judge.engine}) {why}")

    # ---- routes -------------------------------------------------------------------------------------
    @app.post("/v1/judge")
    async def judge(self, request: Request):
        items, single = await self._read(request, PairIn)
        examples = to_examples(items)
        judgments = await self._judge(
            items, examples, self._pair_template, lambda it: ("ab", "ba") if it.both_orders else ("ab",)
        )
        results = [pair_result([j for j in judgments if j.uid == ex.uid]) for ex in examples]
        return results[0] if single else {"results": results}

    def _pair_template(self, item: PairIn) -> str | None:
        return (item.template or self.cfg.template) if self.cfg.judge.prompted else None

    @app.post("/v1/score")
    async def score(self, request: Request):
        if not (self.cfg.judge.prompted and self.cfg.point_template):
            self._refuse(request, "scores no single answers")
        items, single = await self._read(request, PointIn)
        judgments = await self._judge(
            items, to_examples(items), lambda it: it.template or self.cfg.point_template, lambda it: ("ab",)
        )
        results = [{"score": j.scores[0] if j.scores else None, "raw": j.raw, "error": j.error} for j in judgments]
        return results[0] if single else {"results": results}

    @app.post("/v1/chat/completions")
    async def chat(self, request: Request):
        if not self._answers_chat():
            self._refuse(request, "does not generate text")
        body = parse_chat(await self._body(request))
        self._check_item(0, body)
        out = await self._in_time(self.batched_chat(body.conversation()))
        if out.get("error"):  # before any byte is streamed: a streaming client gets the status too
            raise HTTPError(400, out["error"])
        if body.stream:
            usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(chat_stream(out, self.cfg.judge.name, usage), media_type="text/event-stream")
        return chat_completion(out, self.cfg.judge.name)

    def _answers_chat(self) -> bool:
        """An engine that generates (hf, vllm, openai), or a generate-mode judge whose engine answers
        conversations: the fake engine, which CAPABILITIES keeps out of judge compare's generators."""
        j = self.cfg.judge
        return j.capability.generates or (j.mode == "generate" and hasattr(self.engine, "answer"))

    @app.get("/v1/models")
    async def models(self, request: Request):
        self._auth(request)
        j = self.cfg.judge
        return {
            "object": "list",
            "data": [
                {
                    "id": j.name,
                    "object": "model",
                    "engine": j.engine,
                    "model": j.model,
                    "adapter": j.adapter,
                    "mode": j.mode,
                    "templates": self.cfg.allowed(),
                    "picked": self.cfg.picked,
                }
            ],
            "batch_sizes": list(self.batch_sizes),
        }

    @app.get("/healthz")
    async def healthz(self):
        return {"status": "ok", "judge": self.cfg.judge.name}


def build_app(args: dict):
    """Serve's entry point (`import_path: ray_jobs.serve:build_app`): the bound application."""
    cfg = ServeConfig.model_validate(args)
    return JudgeServer.options(**deployment_options(cfg)).bind(cfg.model_dump())


def deployment_options(cfg: ServeConfig) -> dict:
    """Replicas (fixed or autoscaled) and each replica's resources, from the config."""
    scale = (
        {"num_replicas": cfg.num_replicas}
        if cfg.autoscaling_config is None
        else {"autoscaling_config": cfg.autoscaling_config}
    )
    return scale | {
        "max_ongoing_requests": cfg.max_ongoing_requests,
        "ray_actor_options": {"num_cpus": cfg.judge.num_cpus, "num_gpus": cfg.judge.num_gpus},
    }


def read_serve_file(path, overrides: list[str] = ()) -> tuple[dict, dict]:
    """(http_options, args of the first application) of a Serve config file; `key=value` overrides
    apply to args, `http_options.key=value` ones to http_options (http_options.port=8123)."""
    data = read_config(path)
    http = [o.removeprefix("http_options.") for o in overrides if o.startswith("http_options.")]
    args = [o for o in overrides if not o.startswith("http_options.")]
    return apply_overrides(data.get("http_options", {}), http), apply_overrides(data["applications"][0]["args"], args)


def serve_main(path: str, overrides: list[str] = (), blocking: bool = True):
    """`judge serve`: start Serve on the file's http_options and run the app (blocks until Ctrl-C).
    In a quiet CLI session Ray's and Serve's lines go to results/serve/logs/ and one line says where
    the judge answers."""
    http, args = read_serve_file(path, overrides)
    folder = _log_folder()
    with console.logging_to(folder, "serve") if folder else contextlib.nullcontext():
        ensure_ray()
        serve.start(http_options=http)
        handle = serve.run(build_app(args), name="judge", route_prefix="/", blocking=False)
        if not blocking:
            return handle
        cfg = ServeConfig.model_validate(args)
        console.say(
            f"serving judge {cfg.judge.name} ({cfg.judge.engine}, {cfg.judge.model}"
            + (f" + {cfg.judge.adapter}" if cfg.judge.adapter else "")
            + f") at http://{http.get('host', '127.0.0.1')}:"
            f"{http.get('port', 8000)}/v1/judge"
            + (f"; picked: {cfg.picked}" if cfg.picked else "")
            + console.log_note()
            + "; Ctrl-C stops it"
        )
        try:
            while True:
                time.sleep(10)
        except KeyboardInterrupt:  # as serve.run(blocking=True): the app stays up on a cluster (docs/serve.md)
            console.say("stopped waiting; a Serve app outlives its driver on a cluster (`serve shutdown` ends it)")


def _log_folder() -> Path | None:
    """results/serve (under $JUDGE_RESULTS_DIR when set); None where there is no local folder to write
    (a packaged Ray job without JUDGE_RESULTS_DIR, or a storage URI): the job's own log has it all."""
    try:
        where = results_location("results")
    except ValueError:
        return None
    return None if is_uri(where) else Path(where) / "serve"
