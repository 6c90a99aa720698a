"""SIGTERM for commands that run without Prefect: stop where the process is, and say so.

The store's commit protocol makes any stopping point safe: lake parts are
written under temporary names and a batch counts only once its manifest part
is renamed into place, derived tables are replaced whole, and the next run
(under the study lock) deletes what was left half-written and derives the
batches no derive has included. So on SIGTERM irisin takes no new work: the
handler raises ``Terminated`` in the main thread, which unwinds through every
``with`` (the study lock is released, temporary files are closed) and ends the
command with one clear line and exit status 143 (128 + SIGTERM).

``Terminated`` is a ``BaseException``, like ``KeyboardInterrupt``: readers
catch ``Exception`` to hold a bad file with its reason, and must not swallow
a request to stop.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):  # noqa: N818 (a signal, not an error)
    """The process was asked to stop (SIGTERM)."""


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread; the old handler comes back after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
