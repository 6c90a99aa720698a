"""Backfill progress: a rich bar on the terminal and one log line per batch in the Prefect run log.

The bar moves per participant (the unit a batch task reports back); the log
line per finished batch carries the figures a data engineer watching the
Prefect UI wants: batches and files done, rate, and time left.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class BackfillProgress:
    """Thread-safe progress of a backfill over ``total_files`` files in ``total_batches`` batches.

    ``done_files``/``done_batches`` are what an earlier, interrupted run of the
    same backfill already finished (the bar starts there).
    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        total_files: int,
        total_batches: int,
        done_files: int = 0,
        done_batches: int = 0,
        show_bar: bool | None = None,
    ) -> None:
        self.logger = logger
        self.total_files = total_files
        self.total_batches = total_batches
        self.files = done_files
        self.batches = done_batches
        self._start_files = done_files
        self._lock = threading.Lock()
        self._started = time.monotonic()
        show = sys.stderr.isatty() if show_bar is None else show_bar
        self._bar: Progress | None = (
            Progress(
                TextColumn("backfill"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files"),
                TextColumn("{task.fields[batches]}"),
                TextColumn("{task.fields[stage]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            if show
            else None
        )
        self._task_id: TaskID | None = None
        self.stage = "ingest"
        """What the run is doing: ``ingest``, then ``derive``, ``publish``, ``done``."""

    def __enter__(self) -> BackfillProgress:
        if self._bar is not None:
            self._bar.start()
            self._task_id = self._bar.add_task(
                "backfill",
                total=self.total_files,
                completed=self.files,
                batches=self._batches_text(),
                stage=self.stage,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            if exc_type is None:
                self.enter("done")
            self._bar.stop()

    def enter(self, stage: str) -> None:
        """The backfill moves on to ``stage`` (after the batches: derive, then publish)."""
        with self._lock:
            self.stage = stage
            if self._bar is not None and self._task_id is not None:
                self._bar.update(self._task_id, stage=stage)

    def _batches_text(self) -> str:
        return f"batch {self.batches}/{self.total_batches}"

    def rate(self) -> float:
        """Files per second in this run (files finished by an earlier run do not count)."""
        elapsed = time.monotonic() - self._started
        return (self.files - self._start_files) / elapsed if elapsed > 0 else 0.0

    def participant_done(self, files: int) -> None:
        """A participant's files are committed: move the bar."""
        with self._lock:
            self.files += files
            if self._bar is not None and self._task_id is not None:
                self._bar.update(self._task_id, completed=self.files)

    def batch_done(self, index: int, participants: list[str], files: int, minute_rows: int) -> None:
        """A batch is checkpointed: log a line with totals, rate and time left."""
        with self._lock:
            self.batches += 1
            rate = self.rate()
            left = (self.total_files - self.files) / rate if rate > 0 else 0.0
            if self._bar is not None and self._task_id is not None:
                self._bar.update(self._task_id, batches=self._batches_text())
            span = (
                participants[0]
                if len(participants) == 1
                else f"{participants[0]}..{participants[-1]}"
            )
            self.logger.info(
                "batch %d done (%s): %d files, %d minute rows; %d/%d batches, %d/%d files, %.1f files/s, about %s left",
                index + 1,
                span,
                files,
                minute_rows,
                self.batches,
                self.total_batches,
                self.files,
                self.total_files,
                rate,
                _duration(left),
            )
