"""Prefect tasks around the pipeline steps of ``pipeline.jobs``: retries, locks, logging.

The tasks add no pipeline logic. They decide which errors are worth a retry
(a locked file, storage briefly unavailable) and which are not (bad bytes are
already turned into quarantined manifest rows by the ingest pipeline, so a
task only fails on errors of the machine, not of the data), and they keep two
writers away from one participant's lake folder at the same time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.futures import PrefectFuture, as_completed
from prefect.tasks import Task

from config import Study, open_study
from ingest.contract import TerminalInputError, TransientInputError
from ingest.parallel import ReaderPool
from ingest.pipeline import FileOutcome, Ingestor, IngestReport
from pipeline.jobs import (
    DeriveResult,
    InboxItem,
    derive,
    files_of,
    ingest_item,
    lake_of,
    publish,
    recover_store,
)
from pipeline.lock import StudyBusyError as StudyBusyError  # re-exported for the flows
from pipeline.lock import study_lock as study_lock
from pipeline.progress import ProgressBar, size_of
from store.lake import KnownFiles, Lake

P = ParamSpec("P")
R = TypeVar("R")
W = TypeVar("W")

RETRY_DELAYS_SECONDS: list[float] = [1, 5, 20]
"""Waits before the retries of a task that failed on a transient error."""

NOT_TRANSIENT: tuple[type[BaseException], ...] = (
    TerminalInputError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
)
"""OSErrors that no retry fixes: the path is gone or is not what it was."""


def is_transient(error: BaseException | None) -> bool:
    """True for errors a retry may fix: ``TransientInputError`` and most ``OSError``s (a locked file, a full or
    briefly unavailable disk or mount), never for terminal input errors or a file that is gone."""
    if error is None or isinstance(error, NOT_TRANSIENT):
        return False
    return isinstance(error, TransientInputError | OSError)


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect ``retry_condition_fn``: retry only when the task failed on a transient error."""
    try:
        error = state.result(raise_on_failure=False)
    except Exception as e:  # the result could not even be loaded: treat like the error it raised
        error = e
    return is_transient(error if isinstance(error, BaseException) else None)


class StudyRun:
    """What the tasks of one flow run share: the study, its lake and ingestor, and per-participant locks.

    One ``Ingestor`` for the whole run reads the manifest once; the lock per
    participant keeps two tasks from committing the same participant's batch
    (and retiring superseded rows) at the same time.
    """

    def __init__(self, study: Study, *, workers: int | None = None) -> None:
        self.study = study
        self.lake: Lake = lake_of(study)
        self.pool = ReaderPool(workers)
        """FIT reads of the run's tasks on worker processes (started on first large read; closed on exit)."""
        self.ingestor = Ingestor(study, self.lake, pool=self.pool)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @classmethod
    def open(cls, study_dir: str | Path, *, workers: int | None = None) -> StudyRun:
        """``workers``: reader processes (None: ``IRISIN_WORKERS`` or the cores; 1 reads in this process)."""
        return cls(open_study(Path(study_dir)), workers=workers)

    def known_file_ids(self) -> KnownFiles:
        """The manifest's files with who holds each: a file is new to a participant who does not hold it yet."""
        return self.ingestor.known

    def __enter__(self) -> StudyRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.close()

    @contextmanager
    def participant_lock(self, participant_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(participant_id, threading.Lock())
        with lock:
            yield


def bounded_submit(
    work: Iterable[W],
    submit: Callable[[W], PrefectFuture[R]],
    limit: int,
    finished: Callable[[W, PrefectFuture[R]], None],
) -> int:
    """Submit a task run per piece of ``work``, at most ``limit`` in flight; ``finished`` each as it ends.

    The one submit loop of the nightly and the backfill: holding a window of
    futures instead of submitting everything bounds the memory of reports in
    flight and lets a finished piece be recorded (checkpointed) while others
    run. ``finished(piece, future)`` is called in completion order, after the
    future's final state is set. Returns how many runs were submitted.
    """
    in_flight: list[tuple[PrefectFuture[R], W]] = []

    def collect(future: PrefectFuture[R]) -> None:
        index = next(k for k, (f, _) in enumerate(in_flight) if f is future)
        _, piece = in_flight.pop(index)
        future.wait()  # sets the final state; before that .state asks the API
        finished(piece, future)

    submitted = 0
    for piece in work:
        if len(in_flight) >= limit:
            collect(next(as_completed([f for f, _ in in_flight])))
        in_flight.append((submit(piece), piece))
        submitted += 1
    for future in as_completed([f for f, _ in in_flight]):
        collect(future)
    return submitted


def recover_lake(run: StudyRun, logger: Any) -> list[str]:
    """Finish what an interrupted run left in the lake (orphan parts), and say so in the run log."""
    removed = recover_store(run.study, run.lake)
    if removed:
        logger.warning(
            "recovered the lake after an interrupted run: removed %d orphan parts", len(removed)
        )
    for path, problem in run.lake.damaged:
        logger.error(
            "committed lake part %s: %s; rebuild it from its raw file (irisin repair)",
            path,
            problem,
        )
    return removed


def failed_outcome(item: InboxItem, error: BaseException | None) -> FileOutcome:
    """The report line of a file the machine could not read this time (not quarantined: the next run retries it)."""
    what = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    return FileOutcome(
        file_id="",
        path=str(item.path),
        participant_id=item.participant_id,
        kind="unknown",
        status="failed",
        reason=f"could not be read ({what}); the next run tries again",
    )


def pipeline_task(
    name: str, *, run_name: str | None = None
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """The Prefect task of a pipeline step: retried on transient errors only, never cached.

    Every step reads and writes the study's store, so a cached or persisted
    result would be a stale copy of what the store already holds; retries wait
    ``RETRY_DELAYS_SECONDS`` and only follow ``retry_if_transient``.
    """
    options: dict[str, Any] = {"task_run_name": run_name} if run_name else {}
    return task(
        name=name,
        retries=len(RETRY_DELAYS_SECONDS),
        retry_delay_seconds=RETRY_DELAYS_SECONDS,
        retry_condition_fn=retry_if_transient,
        cache_policy=NO_CACHE,
        persist_result=False,
        **options,
    )


@pipeline_task("ingest-shard", run_name="ingest shard {index}")
def ingest_shard(
    run: StudyRun, index: int, items: list[InboxItem], bar: ProgressBar | None = None
) -> IngestReport:
    """Ingest the inbox units of a shard of participants: their loose FIT files read together on the
    worker pool and committed as one lake batch per participant, export folders one by one.

    A retry after a transient error redoes the shard; files committed by the
    failed attempt are skipped by file id. ``bar`` (the run's progress) moves
    after each export folder and after the shard's loose files.
    """
    report = IngestReport()
    loose: dict[str, list[Path]] = {}
    for item in items:
        if item.folder or item.refused is not None:  # a refused entry is recorded, never read
            with run.participant_lock(item.participant_id):
                report.extend(ingest_item(run.study, item, run.lake, run.ingestor))
            if bar is not None:
                files = files_of(item)
                bar.advance(item.participant_id, len(files), size_of(files))
        else:
            loose.setdefault(item.participant_id, []).append(item.path)
    report.extend(run.ingestor.ingest_files(loose, run.participant_lock))
    if bar is not None:
        for pid, paths in sorted(loose.items()):
            bar.advance(pid, len(paths), size_of(paths))
    return report


@pipeline_task("derive")
def derive_weeks(run: StudyRun, touched: pl.DataFrame | None) -> DeriveResult:
    """Recompute the touched participant-weeks (all weeks when ``touched`` is None), daily tables and scores."""
    return derive(run.study, touched)


@pipeline_task("publish")
def publish_warehouse(run: StudyRun) -> Path:
    """Rebuild the DuckDB warehouse from the lake and the derived tables."""
    return publish(run.study)
