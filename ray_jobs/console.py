"""A quiet console: what a `judge` verb shows, and where everything else goes.

A verb run from the CLI (`session`) shows one progress bar, its own events once, and a summary
line at the end. Everything else (Ray, Ray Data, Ray Train, vLLM, DeepSpeed, transformers, worker
prints, known-harmless warnings) goes to <results>/logs/<verb>-<time>.log: `logging_to` points file
descriptors 1 and 2 there, so output of C extensions and child processes lands there too. With
--verbose (or JUDGE_VERBOSE=1) nothing is redirected and every line reaches the terminal.
Outside a session (library calls, tests) every function here is a plain print or a no-op.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path


class _State:
    active = False  # inside a CLI session
    verbose = False
    terminal = None  # the stream the user sees
    log_path: Path | None = None
    last_log: Path | None = None  # the log file of the verb's run, for its summary line
    bar = None


S = _State()


def quiet() -> bool:
    """True when framework output goes to a log file (a CLI session without --verbose)."""
    return S.active and not S.verbose


@contextmanager
def session(verbose: bool = False):
    """One CLI verb: its events and bar reach the terminal; `logging_to` may redirect the rest."""
    S.active, S.verbose, S.terminal = True, verbose or os.environ.get("JUDGE_VERBOSE") == "1", sys.stdout
    try:
        yield
    finally:
        S.active, S.terminal, S.bar, S.last_log = False, None, None, None


def say(message: str) -> None:
    """An event the user should see, once: on the terminal, and in the log file when there is one."""
    if S.log_path is not None:
        print(message, flush=True)  # stdout is the log file here
    print(message, file=S.terminal or sys.stdout, flush=True)


def tell(message: str) -> None:
    """An event for the user of a CLI verb (say); nothing in a library call, whose caller chose what to
    print (which Ray a verb joined or started)."""
    if S.active:
        say(message)


@contextmanager
def logging_to(folder: str | Path, verb: str):
    """Inside: fd 1 and 2, sys.stdout and sys.stderr write to folder/logs/<verb>-<time>.log (only in
    a quiet session; a nested call keeps the outer file). Yields the log's path or None."""
    if not quiet() or S.log_path is not None:
        yield S.log_path
        return
    path = Path(folder) / "logs" / f"{verb}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    S.last_log = path
    with _redirected(path):
        say(f"log: {path}")
        yield path


@contextmanager
def _redirected(path: Path):
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    log = open(path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in finally
    saved_fds = (os.dup(1), os.dup(2))
    saved_streams, terminal = (sys.stdout, sys.stderr), S.terminal
    if _fd(terminal) == 1:  # the terminal is fd 1 itself: keep a handle on it before fd 1 moves
        S.terminal = os.fdopen(os.dup(saved_fds[0]), "w", buffering=1, encoding="utf-8", errors="replace")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    S.log_path = path
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        for fd in saved_fds:
            os.close(fd)
        sys.stdout, sys.stderr = saved_streams
        if S.terminal is not terminal:
            S.terminal.close()
        S.terminal, S.log_path = terminal, None
        log.close()


def _fd(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def log_note() -> str:
    """ "; log: <path>" for a summary line when the verb wrote a log file, else ""."""
    return f"; log: {S.last_log}" if S.last_log else ""


@contextmanager
def quiet_transformers():
    """transformers' warnings and progress bars off inside (a load report of weights that are replaced
    right after, "Writing model shards" bars); on again after."""
    from transformers.utils import logging as hf_logging  # heavy: kept out of `judge --help`

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def quiet_ray_data() -> None:
    """Ray Data's own progress bars off in a quiet session: they would fill the log file with redraws
    (49 KB for 60 fine-tune steps); the verb's one bar says how far it is."""
    if quiet():
        from ray.data import DataContext  # heavy: kept out of `judge --help`

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = ctx.enable_operator_progress_bars = False


# ---- the one progress bar -----------------------------------------------------------------------------
class _Bar:
    """tqdm on a terminal; elsewhere (CI, `ray job submit` logs) a plain line at most every 30 s."""

    def __init__(self, total: int, unit: str, desc: str):
        self.total, self.unit, self.desc, self.n, self.note = total, unit, desc, 0, ""
        self.notes: dict[str, str] = {}  # one per running judge (side by side), shown joined
        self.lock = threading.Lock()  # judges' threads note their rows while the driver moves the bar
        self.start = self.last_line = time.monotonic()
        stream = S.terminal
        self.tqdm = None
        if stream is not None and hasattr(stream, "isatty") and stream.isatty():
            from tqdm.auto import tqdm  # heavy: kept out of `judge --help`

            self.tqdm = tqdm(total=total, unit=unit, desc=desc, file=stream, dynamic_ncols=True, leave=True)

    def update(self, n: int = 1, note: str | None = None) -> None:
        self.n += n
        self.set(self.n, note)

    def set(self, n: int, note: str | None = None) -> None:
        """The bar at n (of total), with a note after it (rows judged, loss, rate)."""
        with self.lock:
            self._set(n, note)

    def _set(self, n: int, note: str | None) -> None:
        self.n, self.note = n, self.note if note is None else note
        if self.tqdm is not None:
            self.tqdm.n = n
            self.tqdm.set_postfix_str(self.note, refresh=False)
            self.tqdm.refresh()
        elif time.monotonic() - self.last_line >= 30 or n >= self.total:
            self.last_line = time.monotonic()
            print(self.line(), file=S.terminal, flush=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        eta = f", ETA {elapsed / self.n * (self.total - self.n):.0f} s" if 0 < self.n < self.total else ""
        return f"{self.desc}: {self.n}/{self.total} {self.unit}, {elapsed:.0f} s{eta}" + (
            f"; {self.note}" if self.note else ""
        )

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()


class _NoBar:
    def update(self, n: int = 1, note: str | None = None) -> None:
        pass

    def set(self, n: int, note: str | None = None) -> None:
        pass


@contextmanager
def progress(total: int, unit: str, desc: str):
    """The verb's one bar (in a session; elsewhere, and for a nested call, a bar that draws nothing)."""
    if not S.active or S.bar is not None:
        yield _NoBar()
        return
    S.bar = _Bar(total, unit, desc)
    try:
        yield S.bar
    finally:
        S.bar.close()
        S.bar = None


def note(text: str | None, key: str = "") -> None:
    """A note after the current bar (e.g. rows judged by a running judge); notes of several keys (judges
    side by side) are shown together, in the order they first came; None removes the key's note.
    Nothing without a bar."""
    bar = S.bar
    if bar is None:
        return
    with bar.lock:
        if text is None:
            bar.notes.pop(key, None)
        else:
            bar.notes[key] = text
        bar._set(bar.n, "; ".join(bar.notes.values()))


@contextmanager
def following(pattern: str, on_match):
    """While inside, call on_match(match) for each new line of the log file that matches pattern (a
    driver learns of work done in Ray workers from their forwarded prints, e.g. fine-tune steps)."""
    path = S.log_path
    if path is None or S.bar is None:
        yield
        return
    stop, regex, offset = threading.Event(), re.compile(pattern), path.stat().st_size

    def tail() -> None:
        nonlocal offset
        while True:
            last = stop.wait(1.0)  # one more read after the stop: the lines of the last second count too
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            whole = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next round
            offset += len(whole)
            for line in whole.decode("utf-8", errors="replace").splitlines():
                if m := regex.search(line):
                    on_match(m)
            if last:
                return

    thread = threading.Thread(target=tail, name="judge-log-follower", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
