"""Stop the Ray processes a driver started when the driver dies without stopping them.

    start_reaper()        # in a driver, right after ray.init() started a local Ray

ray.shutdown() (normal exit, Ctrl-C) stops the local Ray a driver started; a SIGKILLed or crashed
driver runs no clean-up, and its raylet's ray::DashboardAgent and ray::RuntimeEnvAgent outlive it
(measured: both still running, reparented to init). The reaper is a small process in its own session
that records the driver's descendants every second while the driver lives and, once the driver is
gone, terminates those still running (SIGTERM, then SIGKILL after 5 s). It only ever touches
processes that descend from its driver and still have the start time it recorded, so a Ray the
driver merely joined (a cluster, another user's) is never touched.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time


def start_reaper() -> subprocess.Popen:
    """A reaper watching this process (in its own session: a kill of the driver's group spares it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ray_jobs.reaper", str(os.getpid())],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def watch(driver_pid: int, interval: float = 1.0) -> int:
    """Record the driver's descendants until it exits, then stop the survivors; how many were stopped."""
    import psutil

    try:
        driver = psutil.Process(driver_pid)
    except psutil.NoSuchProcess:
        return 0
    seen: dict[int, float] = {}  # pid -> create time
    while driver.is_running() and driver.status() != psutil.STATUS_ZOMBIE:
        with contextlib.suppress(psutil.Error):
            seen |= {p.pid: p.create_time() for p in driver.children(recursive=True) if p.pid != os.getpid()}
        time.sleep(interval)
    return stop(seen)


def stop(seen: dict[int, float], grace: float = 5.0) -> int:
    """SIGTERM, then SIGKILL after `grace` seconds, to each recorded process still running as itself."""
    import psutil

    alive = []
    for pid, created in seen.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == created:
                p.terminate()
                alive.append(p)
        except psutil.Error:
            continue
    _, still = psutil.wait_procs(alive, timeout=grace)
    for p in still:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return len(alive)


if __name__ == "__main__":
    watch(int(sys.argv[1]))
