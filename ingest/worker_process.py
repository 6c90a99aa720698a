"""The first step of a reader worker process, kept free of heavy imports.

It runs before the worker imports polars or lxml, so it can still size
polars' thread pool: a worker is one of ``os.cpu_count()`` processes, and its
own extra threads would only fight its siblings for the same cores.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def start_worker(polars_threads: int | None = 1) -> None:
    """Make this worker die with its parent (Linux), and give polars ``polars_threads`` threads."""
    if polars_threads is not None:
        os.environ.setdefault("POLARS_MAX_THREADS", str(polars_threads))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)


ORPHAN_POLL_SECONDS = 1.0
"""How often a watched process checks that its parent still lives."""


def exit_when_parent_gone(poll_seconds: float = ORPHAN_POLL_SECONDS) -> None:
    """End this process soon after its parent dies, however the parent died (SIGKILL included).

    A dead parent's children are handed to another process, so a change of
    ``os.getppid()`` means the parent is gone. Polling from a daemon thread,
    unlike ``PR_SET_PDEATHSIG``, does not fire when merely the parent *thread*
    that started this process ends (pools shared by a run's threads outlive
    the thread that happened to start them). Without it, a nightly killed by
    the OOM killer or a reboot script left its reader processes running for ever.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="irisin-exit-with-parent", daemon=True).start()
