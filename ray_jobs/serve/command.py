"""`judge serve CONFIG [key=value ...]`: the judge behind HTTP on Ray Serve."""

from __future__ import annotations

from ..config import add_config_verb


def add_parser(sub) -> None:
    add_config_verb(
        sub,
        "serve",
        run,
        "the judge behind HTTP on Ray Serve (/v1/judge, /v1/score, /v1/models, /healthz)",
        "configs/serve/<name>.yaml (a Serve config file; the key comes from the environment)",
        "applied to the app's args, e.g. max_batch_size=32",
        "ray_jobs.serve.api:ServeConfig",
    )


def run(args) -> int:
    from .app import serve_main  # imports Ray Serve (and its FastAPI) only for this verb

    serve_main(args.config, args.overrides)
    return 0
