"""Small helpers for building ``ReadResult``s with reasons that name the file."""

from __future__ import annotations

from typing import Any

from ingest.contract import ReadResult


def quarantined(kind: str, path: str, problem: str, **notes: Any) -> ReadResult:
    """A refused file: nothing lands, the reason names the file and the problem."""
    return ReadResult(
        kind=kind, status="quarantined", reason=f"{path}: {problem}", notes=dict(notes)
    )


def skipped(kind: str, path: str, why: str) -> ReadResult:
    """A recognised file irisin deliberately does not load."""
    return ReadResult(kind=kind, status="skipped", reason=f"{path}: {why}")
