"""The study lock: one writer of a study's store at a time, for every command.

Every command that writes or recovers the store (ingest, nightly, backfill,
rescore, and the repair commands) holds ``runs/.lock`` for its whole run.
Recovery deletes what a crashed run left half-written; without the lock it
would delete what a live run is writing, so ``Lake.recover`` is only called
with the lock held. The lock is an ``flock``: the kernel releases it when the
holder dies, so a killed run never leaves the study locked. The file names
the holder (pid and command) for the message a waiting command prints.
With the store on object storage (``[store] url``) the lock is the object
``<url>/runs/.lock`` instead, written with a conditional PutObject and kept
alive by a heartbeat (``store.object_lock``): one writer at a time across
every machine that runs against the store.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from config import Study
from store.object_lock import ObjectLock

POLL_SECONDS = 0.5
_held: set[str] = set()
"""Lock files this process holds (for ``holds_lock``)."""


class StudyBusyError(RuntimeError):
    """Another irisin run holds the study's lock."""


def lock_path(study: Study) -> Path:
    return study.paths.runs / ".lock"


def _lock_key(study: Study) -> str:
    if study.paths.remote:
        return f"{study.paths.runs_location}/.lock"
    return str(lock_path(study).resolve())


def holds_lock(study: Study) -> bool:
    """Whether this process holds the study's lock."""
    return _lock_key(study) in _held


def _wait_or_refuse(
    message: str,
    deadline: float,
    wait_seconds: float,
    told: bool,
    on_wait: Callable[[str], None] | None,
) -> bool:
    """Sleep one poll, or raise ``StudyBusyError`` when the wait is over; returns whether ``on_wait`` was told."""
    if time.monotonic() >= deadline:
        suffix = f"; waited {wait_seconds:g} s" if wait_seconds > 0 else ""
        raise StudyBusyError(f"{message}{suffix}; try again when it has finished") from None
    if not told and on_wait is not None:
        on_wait(f"{message}; waiting for it to finish")
    time.sleep(POLL_SECONDS)
    return True


@contextmanager
def _object_lock(
    study: Study, what: str, wait_seconds: float, on_wait: Callable[[str], None] | None
) -> Iterator[None]:
    """The study lock of a store on object storage: a lock object (``store.object_lock``)."""
    key = _lock_key(study)
    lock = ObjectLock(key)
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    told = False
    while (holder := lock.try_acquire(what)) is not None:
        message = f"{key}: another irisin run ({holder}) is working on this study"
        told = _wait_or_refuse(message, deadline, wait_seconds, told, on_wait)
    _held.add(key)
    try:
        yield
    finally:
        _held.discard(key)
        lock.release()


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
    if study.paths.remote:
        with _object_lock(study, what, wait_seconds, on_wait):
            yield
        return
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
                told = _wait_or_refuse(message, deadline, wait_seconds, told, on_wait)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {what}")
        handle.flush()
        key = _lock_key(study)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
            fcntl.flock(handle, fcntl.LOCK_UN)
