"""Progress of a long run on a terminal: files and bytes done, the current participant, the stage.

``RunProgress`` is the pure part (counts and the line it shows), so it is
tested without a terminal; ``ProgressBar`` draws it with rich on stderr, and
draws nothing when stderr is not a terminal (a cron job's log stays clean).
One participant may be read by several threads at once, so updates are locked.
A run in batches (the backfill) also counts batches: the bar then shows them
and the time left, and ``RunProgress`` gives the rate for its log lines.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def size_of(paths: list[Path]) -> int:
    """Bytes of ``paths`` on disk (a file gone since it was listed counts 0)."""
    total = 0
    for p in paths:
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total


@dataclass
class RunProgress:
    """Files and bytes of a run done so far, out of its totals, and what it is doing now.

    ``stage`` is ``ingest`` while files are read, then e.g. ``derive`` and
    ``publish``; ``participant`` is the one whose files were read last.
    """

    total_files: int
    total_bytes: int
    files: int = 0
    bytes: int = 0
    participant: str = ""
    stage: str = "ingest"
    total_batches: int = 0
    """0 for a run not made of batches."""
    batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _started: float = field(default_factory=time.monotonic, repr=False, compare=False)
    _files_before: int = field(default=-1, repr=False, compare=False)

    def __post_init__(self) -> None:
        # what an earlier, interrupted run already did (a resumed backfill) does not count in the rate
        self._files_before = self.files

    def advance(self, participant: str, files: int, size: int) -> None:
        """``files`` files of ``size`` bytes of ``participant`` are done (never past the totals)."""
        with self._lock:
            self.files = min(self.total_files, self.files + files)
            self.bytes = min(self.total_bytes, self.bytes + size)
            self.participant = participant

    def batch_done(self) -> None:
        """One more batch is finished (never past the total)."""
        with self._lock:
            self.batches = min(self.total_batches, self.batches + 1)

    def rate(self) -> float:
        """Files per second in this run (files done by an earlier run of it do not count)."""
        elapsed = time.monotonic() - self._started
        return (self.files - self._files_before) / elapsed if elapsed > 0 else 0.0

    def time_left(self) -> str:
        """The time the files left take at this run's rate, e.g. ``3m05s`` or ``1h20m``."""
        rate = self.rate()
        seconds = max(0, int((self.total_files - self.files) / rate if rate > 0 else 0))
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"

    def enter(self, stage: str) -> None:
        """The run moves on to ``stage`` (after ingest: derive, publish)."""
        with self._lock:
            self.stage = stage
            if stage != "ingest":
                self.participant = ""

    def finished(self) -> None:
        """Everything is done: the bar shows full."""
        with self._lock:
            self.files, self.bytes, self.stage, self.participant = (
                self.total_files,
                self.total_bytes,
                "done",
                "",
            )

    def label(self) -> str:
        """What the bar says beside it, e.g. ``ingest P07`` or ``derive``."""
        return f"{self.stage} {self.participant}".rstrip()

    def size_text(self) -> str:
        """Bytes done of the total, e.g. ``1.2 MB/40.0 MB`` (empty when the run does not count bytes)."""
        if not self.total_bytes:
            return ""
        return f"{decimal(self.bytes)}/{decimal(self.total_bytes)}"

    def batches_text(self) -> str:
        """Batches done of the total, e.g. ``batch 3/40`` (empty for a run not made of batches)."""
        return f"batch {self.batches}/{self.total_batches}" if self.total_batches else ""


class ProgressBar:
    """A rich bar over a ``RunProgress`` (files, bytes, batches, elapsed), on stderr, only on a terminal.

    ``show`` forces it on or off; by default it shows when stderr is a TTY.
    Call ``refresh()`` after changing the ``RunProgress``.
    """

    def __init__(
        self,
        progress: RunProgress,
        *,
        title: str,
        show: bool | None = None,
        console: Console | None = None,
    ) -> None:
        self.progress = progress
        visible = sys.stderr.isatty() if show is None else show
        columns: list[str | ProgressColumn] = [
            TextColumn(title),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[size]}"),
        ]
        if progress.total_batches:
            columns.append(TextColumn("{task.fields[batches]}"))
        columns += [TextColumn("{task.fields[label]}"), TimeElapsedColumn()]
        if progress.total_batches:
            columns.append(TimeRemainingColumn())
        self._bar: Progress | None = (
            Progress(*columns, console=console or Console(stderr=True)) if visible else None
        )
        self._task: TaskID | None = None

    @property
    def visible(self) -> bool:
        return self._bar is not None

    def __enter__(self) -> ProgressBar:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(
                "run",
                total=self.progress.total_files,
                completed=self.progress.files,
                label=self.progress.label(),
                size=self.progress.size_text(),
                batches=self.progress.batches_text(),
            )
            self.refresh()
        return self

    def refresh(self) -> None:
        """Draw the ``RunProgress`` as it is now."""
        if self._bar is None or self._task is None:
            return
        p = self.progress
        self._bar.update(
            self._task,
            completed=p.files,
            label=p.label(),
            size=p.size_text(),
            batches=p.batches_text(),
        )

    def draw_now(self) -> None:
        """Redraw at once instead of at the next tick of the bar's own thread."""
        if self._bar is not None:
            self._bar.refresh()

    def advance(self, participant: str, files: int, size: int) -> None:
        self.progress.advance(participant, files, size)
        self.refresh()

    def batch_done(self) -> None:
        self.progress.batch_done()
        self.refresh()

    def enter(self, stage: str) -> None:
        self.progress.enter(stage)
        self.refresh()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            if exc_type is None:
                self.progress.finished()
                self.refresh()
            self._bar.stop()
