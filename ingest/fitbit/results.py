"""Small helpers for building ``ReadResult``s with reasons that name the file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ingest.contract import ReadResult, must_propagate

T = TypeVar("T")


def quarantined(kind: str, path: str, problem: str, **notes: Any) -> ReadResult:
    """A refused file: nothing lands, the reason names the file and the problem."""
    return ReadResult(
        kind=kind, status="quarantined", reason=f"{path}: {problem}", notes=dict(notes)
    )


def skipped(kind: str, path: str, why: str) -> ReadResult:
    """A recognised file irisin deliberately does not load."""
    return ReadResult(kind=kind, status="skipped", reason=f"{path}: {why}")


def guarded(kind: str, path: str, read: Callable[..., T], *args: Any) -> T | ReadResult:
    """``read(*args)``, or a quarantine result naming the error when it fails, so one file never sinks its siblings.

    Transient errors (``ingest.contract.must_propagate``) are raised for the flow to retry.
    """
    try:
        return read(*args)
    except BaseException as exc:
        if must_propagate(exc):
            raise
        return quarantined(kind, path, f"reader failed: {type(exc).__name__}: {exc}")
