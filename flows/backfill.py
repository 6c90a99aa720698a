"""The backfill flow: reprocess a cohort from raw files in resumable participant batches.

A data engineer points it at the study's inbox (or another folder of
``<participant_id>/`` subfolders) and some or all participants. Participants
are cut into batches of ``[ingest] backfill_batch_participants``; each batch
is one task (the unit a distributed task runner could spread over workers),
and a checkpoint records every finished batch, so a backfill killed halfway
and started again with the same arguments redoes only the unfinished batches
and ends with the same tables as an uninterrupted run.

At the end the participant-weeks in scope are recomputed (all of them for a
whole-cohort backfill; otherwise the weeks of the chosen participants that
overlap ``since``/``until``), scores and warehouse refreshed.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.checkpoint import BackfillBatch, Checkpoint, plan_batches
from flows.engine import recompute, shard_runner
from flows.nightly import already_ingested
from flows.reporting import finish_run, week_rows
from flows.tasks import (
    StudyRun,
    bounded_submit,
    failed_outcome,
    pipeline_task,
    publish_warehouse,
    recover_lake,
    study_lock,
)
from ingest.parallel import MIN_FILES_FOR_POOL
from ingest.pipeline import IngestReport
from pipeline.intake_report import known_archive_members
from pipeline.jobs import (
    InboxItem,
    RunRecord,
    damage_outcomes,
    files_of,
    fingerprints_of,
    inbox_items,
    ingest_item,
    remember_read,
    stat_files,
    weeks_of,
)
from pipeline.progress import ProgressBar, RunProgress

MAX_THREADS = 256

HOLD_ENV = "IRISIN_BACKFILL_HOLD_AT"
"""Test hook for crash-safety tests: comma-separated points (``participant-<id>``,
``batch-<k>`` = after k batches of this run, ``derived``, ``published``) where the
run writes ``held-at-<point>`` into its checkpoint folder and waits to be killed."""


def hold_point(folder: Path, point: str) -> None:
    """Stop here for ever when ``IRISIN_BACKFILL_HOLD_AT`` names ``point`` (see ``HOLD_ENV``)."""
    if point not in os.environ.get(HOLD_ENV, "").split(","):
        return
    (folder / f"held-at-{point}").write_text(str(os.getpid()), encoding="utf-8")
    while True:
        time.sleep(1)


def files_in(item: InboxItem) -> int:
    """Raw files an inbox unit holds (a folder counts its files)."""
    return len(files_of(item))


def minute_rows(report: IngestReport) -> int:
    return sum(o.rows.get("minutes", 0) for o in report.outcomes)


@pipeline_task("backfill-batch", run_name="backfill batch {batch.index}")
def ingest_batch(
    run: StudyRun,
    batch: BackfillBatch,
    items: list[InboxItem],
    progress: ProgressBar,
    checkpoint_folder: Path,
) -> IngestReport:
    """Ingest the units of a batch's participants, one participant after the other.

    A retry after a transient error redoes the batch; files committed by the
    failed attempt are skipped by file id.
    """
    report = IngestReport()
    for pid in batch.participants:
        mine = [i for i in items if i.participant_id == pid]
        with run.participant_lock(pid):
            for item in mine:
                report.extend(ingest_item(run.study, item, run.lake, run.ingestor))
        progress.advance(pid, sum(files_in(i) for i in mine), 0)
        hold_point(checkpoint_folder, f"participant-{pid}")
    return report


@pipeline_task("backfill-batch-on-worker", run_name="backfill batch {batch.index}")
def ingest_batch_on_worker(
    study_dir: str, batch: BackfillBatch, items: list[InboxItem]
) -> IngestReport:
    """A batch on a Dask worker (``[execution] engine = "dask"``): the study opened there, files read there.

    The worker process is the unit of parallelism, so FIT files are read in
    it rather than in a pool of its own; the participant folders it writes
    are its batch's alone.
    """
    report = IngestReport()
    with StudyRun.open(study_dir, workers=1) as run:
        for pid in batch.participants:
            for item in (i for i in items if i.participant_id == pid):
                report.extend(ingest_item(run.study, item, run.lake, run.ingestor))
    return report


def _log_batch(batch: BackfillBatch, files: int, minute_rows: int, progress: RunProgress) -> None:
    """One line in the Prefect run log per checkpointed batch: what it did, the totals, rate and time left."""
    first, last = batch.participants[0], batch.participants[-1]
    get_run_logger().info(
        "batch %d done (%s): %d files, %d minute rows; %d/%d batches, %d/%d files, %.1f files/s, about %s left",
        batch.index + 1,
        first if first == last else f"{first}..{last}",
        files,
        minute_rows,
        progress.batches,
        progress.total_batches,
        progress.files,
        progress.total_files,
        progress.rate(),
        progress.time_left(),
    )


def _run_batches(
    run: StudyRun,
    batches: list[BackfillBatch],
    items: list[InboxItem],
    checkpoint: Checkpoint,
    progress: ProgressBar,
    limit: int,
    remote: TaskRunner[Any] | None = None,
) -> tuple[IngestReport, list[int]]:
    """Submit the batches with at most ``limit`` in flight; checkpoint each finished one.

    ``remote``: a Dask task runner that runs the batches on its workers (see
    ``flows.engine``); the progress bar then moves a batch at a time.
    Returns the merged report and the indexes of batches that failed (left for the next run).
    """
    report = IngestReport()
    failed: list[int] = []
    finished_here = 0

    def mine_of(batch: BackfillBatch) -> list[InboxItem]:
        return [i for i in items if i.participant_id in batch.participants]

    def collect(batch: BackfillBatch, future: PrefectFuture[IngestReport]) -> None:
        nonlocal finished_here
        mine = mine_of(batch)
        if future.state.is_completed():
            part: IngestReport = future.result()
            report.extend(part)
            files = sum(files_in(i) for i in mine)
            if remote is not None:
                progress.advance(batch.participants[-1], files, 0)
            checkpoint.mark_done(batch.index, files=files, minute_rows=minute_rows(part))
            progress.batch_done()
            _log_batch(batch, files, minute_rows(part), progress.progress)
            finished_here += 1
            hold_point(checkpoint.folder, f"batch-{finished_here}")
        else:
            error = future.state.result(raise_on_failure=False)
            failed.append(batch.index)
            report.outcomes += [
                failed_outcome(i, error if isinstance(error, BaseException) else None) for i in mine
            ]

    def submit(batch: BackfillBatch) -> PrefectFuture[IngestReport]:
        if remote is None:
            return ingest_batch.submit(run, batch, mine_of(batch), progress, checkpoint.folder)
        parameters = {"study_dir": str(run.study.root), "batch": batch, "items": mine_of(batch)}
        future: PrefectFuture[IngestReport] = remote.submit(ingest_batch_on_worker, parameters)
        return future

    bounded_submit(batches, submit, limit, collect)
    return report, sorted(failed)


@flow(
    name="irisin-backfill",
    description="Reprocess a cohort from raw files in resumable participant batches, then recompute and publish.",
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS),  # type: ignore[arg-type]
    persist_result=False,
)
def backfill_flow(
    study_dir: str,
    participants: list[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    source_dir: str | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Backfill ``participants`` (all found in the source when None) from ``source_dir`` (the inbox when None).

    ``since``/``until`` (local dates, inclusive) restrict which participant-weeks
    are recomputed; every raw file of the chosen participants is ingested (the
    lake skips bytes it already holds). ``show_progress`` forces the terminal
    bar on or off (default: on when stderr is a terminal); the bar covers the
    whole run: the batches, then derive and publish.
    """
    logger = get_run_logger()
    run = StudyRun.open(study_dir)
    study = run.study
    with run, study_lock(study):
        removed = recover_lake(run, logger)
        source = None if source_dir is None else Path(source_dir).resolve()
        items = inbox_items(
            study, participants, roots=None if source is None else [source], split_fit_folders=False
        )
        found = {i.participant_id for i in items}
        cohort = sorted(set(participants) if participants is not None else found)
        if participants is not None and set(participants) - found:
            logger.warning("no raw files for %s", ", ".join(sorted(set(participants) - found)))
        batches = plan_batches(cohort, study.config.ingest.backfill_batch_participants)
        parameters = {
            "participants": None if participants is None else cohort,
            "since": since,
            "until": until,
            "source_dir": None if source is None else str(source),
        }
        checkpoint = Checkpoint.resume_or_start(study.paths.runs, parameters, batches)
        todo = [b for b in batches if not checkpoint.is_done(b.index)]
        if checkpoint.done_count():
            logger.info(
                "resuming backfill %s: %d of %d batches already done",
                checkpoint.key,
                checkpoint.done_count(),
                len(batches),
            )
        record = RunRecord(
            "backfill",
            study,
            parameters={"study_dir": str(study.root), **parameters, "key": checkpoint.key},
        )
        execution = study.config.execution.resolved()
        if execution.engine == "local" and sum(files_in(i) for i in items) >= MIN_FILES_FOR_POOL:
            run.pool.start()  # every participant's FIT files are then read on all cores
        with (
            shard_runner(execution) as remote,
            ProgressBar(
                RunProgress(
                    total_files=sum(files_in(i) for i in items),
                    total_bytes=0,  # the checkpoint counts files, not bytes
                    files=checkpoint.done_files(),
                    total_batches=len(batches),
                    batches=checkpoint.done_count(),
                ),
                title="backfill",
                show=show_progress,
            ) as progress,
        ):
            limit = study.config.ingest.max_concurrent_files if remote is None else len(todo) or 1
            seen = stat_files(items) if source is None else {}
            report, failed = _run_batches(run, todo, items, checkpoint, progress, limit, remote)
            hashes = fingerprints_of(study)  # the next nightly does not hash what was read again
            remember_read(hashes, report.outcomes, seen)
            whole_cohort = participants is None and since is None and until is None
            scope = None if whole_cohort else weeks_of(study, cohort, since, until)
            progress.enter("derive")
            derive_runs: list[int] = []
            derived = recompute(run, scope, remote, derive_runs)
            hold_point(checkpoint.folder, "derived")
            # files already in the lake (read before, or by a resumed run's finished batches) are seen too
            known = already_ingested(items, report)
            report.known_members += known_archive_members(known, run.lake, hashes.file_id)
            hashes.save()
            report.outcomes = known + report.outcomes
            report.outcomes += damage_outcomes(study, run.lake)
            state = finish_run(
                record,
                report,
                derived.weekly,
                title=f"irisin backfill: {study.config.study.name}",
                inputs=None if source is None else [str(i.path) for i in items],
                extra={
                    "backfill_key": checkpoint.key,
                    "checkpoint": str(checkpoint.path),
                    "batches": len(batches),
                    "batches_resumed": len(batches) - len(todo),
                    "batches_failed": failed,
                    "recomputed_weeks": week_rows(derived.touched),
                    "recovered_parts": len(removed),
                    "engine": execution.engine,
                    "derive_task_runs": sum(derive_runs),
                },
            )
            progress.enter("publish")
            publish_warehouse(run)
            hold_point(checkpoint.folder, "published")
        if failed:
            logger.warning(
                "batches %s did not finish; run the same backfill again to finish them", failed
            )
        else:
            checkpoint.finish(record.run_id)
    return state  # type: ignore[no-any-return]  # a Completed state carrying the dict: calling the flow returns the dict


def main(argv: list[str] | None = None) -> None:
    """``python -m flows.backfill --study DIR [--participants A,B] [--since D] [--until D] [--source DIR]``.

    The same flow as ``irisin backfill``, without the CLI's dependencies; used
    by the crash-safety tests and the benchmark to run a backfill in a process
    of its own.
    """
    parser = argparse.ArgumentParser(prog="python -m flows.backfill", description=main.__doc__)
    parser.add_argument("--study", required=True)
    parser.add_argument("--participants", default=None, help="comma-separated ids (default: all)")
    parser.add_argument("--since", type=date.fromisoformat, default=None)
    parser.add_argument("--until", type=date.fromisoformat, default=None)
    parser.add_argument("--source", default=None)
    args = parser.parse_args(argv)
    result = backfill_flow(
        args.study,
        participants=None
        if args.participants is None
        else [p for p in args.participants.split(",") if p],
        since=args.since,
        until=args.until,
        source_dir=args.source,
    )
    print(result["summary"])


if __name__ == "__main__":
    main()
