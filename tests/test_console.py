"""The quiet console: framework output (Python and C level) goes to the log file, the verb's own events
and its one bar reach the terminal once, and --verbose turns the redirection off."""

import os
import sys
import time

from ray_jobs import console


def test_a_quiet_session_sends_everything_but_its_events_to_the_log_file(tmp_path, capfd):
    with console.session():
        with console.logging_to(tmp_path, "sweep") as log:
            print("INFO worker.py -- Started a local Ray instance")
            os.write(2, b"[2026 E core_worker.cc] C-level line\n")  # what a C extension or child process writes
            console.say("[left out] minilm: train it first")
        console.say(f"1 of 2 cells ok{console.log_note()}")
    out, err = capfd.readouterr()
    assert log.parent == tmp_path / "logs" and log.name.startswith("sweep-") and log.suffix == ".log"
    assert out.splitlines() == [f"log: {log}", "[left out] minilm: train it first", f"1 of 2 cells ok; log: {log}"]
    assert err == ""
    assert log.read_text().splitlines() == [
        f"log: {log}",
        "INFO worker.py -- Started a local Ray instance",
        "[2026 E core_worker.cc] C-level line",
        "[left out] minilm: train it first",
    ]
    print("after")  # the terminal is back
    assert capfd.readouterr().out == "after\n"


def test_verbose_and_library_calls_redirect_nothing(tmp_path, capfd):
    for ctx in (console.session(verbose=True), _nothing()):
        with ctx, console.logging_to(tmp_path, "sweep") as log:
            print("INFO framework line")
            console.say("event")
        assert log is None and capfd.readouterr().out == "INFO framework line\nevent\n"
    assert not (tmp_path / "logs").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_the_bar_off_a_terminal_prints_a_line_at_most_every_30_s_and_at_the_end(capfd):
    with console.session(), console.progress(4, "cells", "demo") as bar:
        bar.update(1, "judge 1/2 fake")
        bar.update(1)
        bar.start -= 60  # a minute later
        bar.last_line -= 60
        bar.update(1, "judge 2/2 rule")
        bar.update(1, "done")
    lines = capfd.readouterr().out.splitlines()
    assert lines == ["demo: 3/4 cells, 60 s, ETA 20 s; judge 2/2 rule", "demo: 4/4 cells, 60 s; done"]


def test_a_nested_bar_and_a_bar_outside_a_session_draw_nothing(capfd):
    with console.progress(2, "rows", "outside") as bar:
        bar.update(2)
    with (
        console.session(),
        console.progress(1, "cells", "outer") as outer,
        console.progress(5, "rows", "inner") as inner,
    ):
        inner.update(5)
        outer.update(1)
    assert capfd.readouterr().out.splitlines() == ["outer: 1/1 cells, 0 s"]


def test_following_reads_each_new_matching_line_of_the_log_once(tmp_path, capfd):
    seen = []
    with console.session(), console.logging_to(tmp_path, "finetune") as log:
        print("[finetune] step 1/9 before the follower: not seen")
        with (
            console.progress(9, "steps", "ft") as bar,
            console.following(r"step (\d+)/(\d+)", lambda m: seen.append(int(m[1]))),
        ):
            print("(RayTrainWorker pid=1) [finetune] step 2/9 loss 1.1", flush=True)
            print("unrelated", flush=True)
            sys.stdout.write("(RayTrainWorker pid=1) [finetune] step 3/9 lo")  # half a line: read once complete
            sys.stdout.flush()
            time.sleep(1.5)
            print("ss 1.0", flush=True)
            time.sleep(1.5)
            bar.set(9)
    assert seen == [2, 3] and "step 3/9 loss 1.0" in log.read_text()


def test_judges_side_by_side_share_the_bar_each_with_its_own_note(capfd):
    """Notes keyed by judge are shown together while they run; a judge's note goes when it ends."""
    with console.session(), console.progress(4, "cells", "sweep") as bar:
        console.note("a: 8/40 rows, 4.0 rows/s", key="a")
        console.note("b: starting its engine for 40 rows", key="b")
        console.note("a: 16/40 rows, 4.0 rows/s", key="a")
        assert bar.note == "a: 16/40 rows, 4.0 rows/s; b: starting its engine for 40 rows"
        console.note(None, key="a")
        bar.update(2)
        assert bar.note == "b: starting its engine for 40 rows"
        console.note(None, key="b")
        bar.update(2)
    assert capfd.readouterr().out.splitlines() == ["sweep: 4/4 cells, 0 s"]
