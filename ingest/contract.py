"""The one contract every reader follows.

A reader turns raw bytes into canonical tables plus what it learned, and
never raises for bad bytes: damage becomes ``status="partial"`` (rows before
the damage kept) or ``status="quarantined"`` with a reason that names the
problem. The ingest pipeline (``ingest.pipeline``) does the I/O, hashing,
manifest and store writes around readers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import pyarrow as pa

Status = Literal["ok", "partial", "quarantined", "skipped"]


@dataclass(frozen=True)
class ReadContext:
    """What a reader may know about the file it reads besides its bytes."""

    participant_id: str
    file_id: str
    path: str
    timezone: str | None = None
    """IANA zone of the participant from the roster, where known."""
    zones: Mapping[str, str] = field(default_factory=dict)
    """IANA zone of every roster participant, for exports that hold many participants."""
    id_map: Mapping[str, str] = field(default_factory=dict)
    """Device/export ids (e.g. a Fitabase ``Id``) to roster participant ids."""
    participant_from_id: bool = False
    """Use an export's own participant id column as participant_id (``--participant-from-id``)."""


@dataclass
class ReadResult:
    """Canonical tables read from one file, with its outcome.

    ``tables`` maps canonical table names (``config.schema.LAKE_TABLES``) to
    Arrow tables with canonical column names and castable types. A reader
    sets ``source`` (and ``device`` where known) itself; it may leave out
    ``participant_id`` and ``file_id``, which the pipeline fills in before
    ``config.conform.conform`` checks the table.
    ``notes`` records what the reader detected (device, clock, UTC offset,
    counts of dropped rows and why) and lands in the manifest as JSON.
    """

    kind: str
    status: Status = "ok"
    reason: str | None = None
    tables: dict[str, pa.Table] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    family: str | None = None
    """Reader family that decided the file (``ingest.versions``); set by the pipeline, not by readers.
    ``"*"``: no reader claimed it, so every family's version decided it."""


@dataclass(frozen=True)
class Member:
    """One file inside a folder or archive handed to a bundle reader.

    ``path`` is relative to the bundle root with ``/`` separators; ``load``
    returns the bytes (archive members are read lazily, one at a time).
    ``stream``, where given, opens the same bytes as a binary stream, so that
    a member too large to hold (an Apple Health ``export.xml`` of several GB)
    can be hashed and read without its bytes in memory.
    """

    path: str
    size: int
    load: Callable[[], bytes]
    stream: Callable[[], AbstractContextManager[IO[bytes]]] | None = None


FileReader = Callable[[bytes, ReadContext], ReadResult]
"""Signature of a single-file reader such as the FIT reader."""

BundleReader = Callable[[Sequence[Member], ReadContext], dict[str, ReadResult]]
"""Signature of a reader of a whole export (a folder or archive of many files).

It receives every member of the export (``ctx.path`` is the export's path,
``ctx.file_id`` the id of the archive or folder) and returns one result per
member path it recognises; members it does not return are recorded as
``skipped`` by the pipeline. FIT members are not handed to bundle readers:
the pipeline reads them with the FIT reader. A result's tables may carry their
own ``participant_id`` column (exports that hold many participants).
"""


class TerminalInputError(Exception):
    """Bad input that no retry will fix (corrupt bytes, foreign format)."""


class ReaderUnavailable(RuntimeError):
    """A reader cannot be imported: the installation is broken, and every file of its kind would be misread."""


class TransientInputError(Exception):
    """A failure a retry may fix (a locked file, storage briefly unavailable)."""


def must_propagate(error: BaseException) -> bool:
    """Whether an exception raised while reading must leave the reader instead of quarantining the file.

    A retry may fix ``TransientInputError`` and ``OSError`` (a locked file, a
    mount briefly away, an archive member the disk could not give back), so
    they travel up to the flow's retry and, failing that, leave the file for
    the next run. Ctrl-C and interpreter exit are obeyed. Everything else,
    including a polars ``PanicException`` (a ``BaseException``), is a fault of
    the bytes or of the reader and costs only the file it happened in.
    """
    return isinstance(
        error, TransientInputError | OSError | KeyboardInterrupt | SystemExit | GeneratorExit
    )
