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
