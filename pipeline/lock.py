"""The study lock: one writer of a study's store at a time, for every command.

Every command that writes or recovers the store (ingest, nightly, backfill,
rescore, and the repair commands) holds ``runs/.lock`` for its whole run.
Recovery deletes what a crashed run left half-written; without the lock it
would delete what a live run is writing, so ``Lake.recover`` is only called
with the lock held. The lock is an ``flock``: the kernel releases it when the
holder dies, so a killed run never leaves the study locked. The file names
the holder (pid and command) for the message a waiting command prints.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from config import Study

POLL_SECONDS = 0.5
_held: set[str] = set()
"""Lock files this process holds (for ``holds_lock``)."""


class StudyBusyError(RuntimeError):
    """Another irisin run holds the study's lock."""


def lock_path(study: Study) -> Path:
    return study.paths.runs / ".lock"


def holds_lock(study: Study) -> bool:
    """Whether this process holds the study's lock."""
    return str(lock_path(study).resolve()) in _held


@contextmanager
def study_lock(
    study: Study,
    what: str = "irisin",
    *,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the study's lock for the block; wait up to ``wait_seconds`` for another run, then refuse.

    ``on_wait`` is called once with a message naming the holder when the
    lock is busy and this call is going to wait for it (a second call in the
    same process waits like any other). Raises ``StudyBusyError`` naming the holder when it gives up.
    """
    path = lock_path(study)
    study.paths.runs.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                message = f"{path}: another irisin run ({holder}) is working on this study"
                if time.monotonic() >= deadline:
                    suffix = f"; waited {wait_seconds:g} s" if wait_seconds > 0 else ""
                    raise StudyBusyError(
                        f"{message}{suffix}; try again when it has finished"
                    ) from None
                if not told and on_wait is not None:
                    on_wait(f"{message}; waiting for it to finish")
                    told = True
                time.sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {what}")
        handle.flush()
        key = str(path.resolve())
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)
