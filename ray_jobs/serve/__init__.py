"""The judge behind HTTP: api.py (config, bodies, answers; no HTTP, no Ray) and app.py (the Ray
Serve deployment). `import_path: ray_jobs.serve:build_app` in a Serve config file names build_app;
the app module (and Ray) is imported only when one of its names is asked for."""

from .api import ServeConfig

_APP = ("JudgeServer", "build_app", "deployment_options", "read_serve_file", "serve_main")
__all__ = ["ServeConfig", *_APP]


def __getattr__(name: str):
    if name in _APP:
        from . import app  # heavy: Ray Serve, kept out of `judge --help`

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
