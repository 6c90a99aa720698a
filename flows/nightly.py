"""The nightly flow: new inbox files in, touched weeks recomputed, scores and warehouse refreshed.

Steps (each a plain function of ``pipeline.jobs``; this module only adds
concurrency, retries and reporting):

1. recover the lake from any crashed run, list the inbox, drop bytes already
   in the manifest;
2. ingest the new files, one task per shard of ``[ingest]
   backfill_batch_participants`` participants (their FIT files read together
   on worker processes, one lake batch per participant), at most
   ``[ingest] max_concurrent_files`` shards at a time;
3. recompute only the participant-weeks the new rows touch, rescore;
4. summarize (artifacts, ``runs/<run_id>/run_info.json``) and refresh the
   DuckDB warehouse.

A second run with nothing new ingests nothing, recomputes nothing and leaves
every derived row as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows.reporting import finish_run, week_rows
from flows.tasks import (
    StudyRun,
    bounded_submit,
    derive_weeks,
    failed_outcome,
    ingest_shard,
    publish_warehouse,
    recover_lake,
    study_lock,
)
from ingest.pipeline import FileOutcome, IngestReport
from pipeline.intake_report import known_archive_members
from pipeline.jobs import (
    MAX_SHARDS,
    InboxItem,
    RunRecord,
    damage_outcomes,
    files_of,
    fingerprints_of,
    gc_paused,
    inbox_items,
    new_items,
    touched_weeks_of,
)
from pipeline.progress import ProgressBar, RunProgress, size_of

MAX_THREADS = 256
"""Upper bound of the thread pool; the study's ``max_concurrent_files`` is the real limit."""


def interleave_participants(items: Sequence[InboxItem]) -> list[InboxItem]:
    """Items in round-robin order over participants (P1 a, P2 a, P1 b, P2 b, ...).

    Tasks of one participant wait for each other's lock, so a window of
    concurrent tasks that spans participants keeps every worker busy.
    """
    groups = [
        list(g)
        for _, g in itertools.groupby(
            sorted(items, key=lambda i: i.participant_id), key=lambda i: i.participant_id
        )
    ]
    return [i for row in itertools.zip_longest(*groups) for i in row if i is not None]


def shards_of(items: Sequence[InboxItem], participants_per_shard: int) -> list[list[InboxItem]]:
    """Items cut into shards of whole participants (``participants_per_shard`` each), participants sorted.

    A shard is one task: the number of task runs follows the participants
    with something new, not the files (Prefect's API strains at thousands of
    task runs per flow run): never more than ``MAX_SHARDS``, shards grow instead.
    """
    by_participant: dict[str, list[InboxItem]] = {}
    for item in items:
        by_participant.setdefault(item.participant_id, []).append(item)
    pids = sorted(by_participant)
    size = max(1, participants_per_shard, -(-len(pids) // MAX_SHARDS))
    return [
        [i for pid in pids[k : k + size] for i in by_participant[pid]]
        for k in range(0, len(pids), size)
    ]


def ingest_concurrently(
    run: StudyRun,
    items: Sequence[InboxItem],
    limit: int,
    participants_per_shard: int,
    bar: ProgressBar | None = None,
) -> tuple[IngestReport, int]:
    """Submit one ingest task per shard of participants, at most ``limit`` in flight; merge their reports.

    A shard that still fails after its retries gives ``failed`` outcomes for
    its units (the files stay in the inbox and the next run tries again); the
    run goes on. Returns the report and the number of task runs submitted.
    """
    report = IngestReport()

    def collect(piece: tuple[int, list[InboxItem]], future: PrefectFuture[IngestReport]) -> None:
        _, shard = piece
        state = future.state
        if state.is_completed():
            report.extend(future.result())
        else:
            error = state.result(raise_on_failure=False)
            report.outcomes += [
                failed_outcome(item, error if isinstance(error, BaseException) else None)
                for item in shard
            ]

    submitted = bounded_submit(
        enumerate(shards_of(items, participants_per_shard)),
        lambda piece: ingest_shard.submit(run, *piece, bar),
        limit,
        collect,
    )
    report.outcomes.sort(key=lambda o: (o.participant_id, o.path))
    return report, submitted


def already_ingested(items: Sequence[InboxItem], report: IngestReport) -> list[FileOutcome]:
    """Report lines (seen, not new) for the inbox files this run did not ingest: their bytes are in the lake.

    An outcome names a file as ``file``, ``file!/member`` (archive or loose
    file) or ``folder!/member``/``folder/member`` (export folder); a folder
    counts file by file.
    """
    reported = {o.path for o in report.outcomes}
    named = {path.replace("!/", "/") for path in reported} | {
        path.split("!/", 1)[0] for path in reported
    }
    known: list[FileOutcome] = []
    for item in items:
        known += [
            FileOutcome("", str(f), item.participant_id, "known", "ok", None, new=False)
            for f in files_of(item)
            if str(f) not in named
        ]
    return known


@flow(
    name="irisin-nightly",
    description="Ingest new inbox files, recompute the participant-weeks they touch, rescore, refresh the warehouse.",
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS),  # type: ignore[arg-type]
    persist_result=False,
    validate_parameters=True,
)
def nightly_flow(study_dir: str, show_progress: bool | None = None) -> dict[str, Any]:
    """Run the nightly pipeline on the study at ``study_dir``; returns the run result (``summary`` etc.).

    ``show_progress`` forces the terminal bar (new files and bytes, the current
    participant, then derive and publish) on or off; by default it shows when
    stderr is a terminal.
    """
    logger = get_run_logger()
    run = StudyRun.open(study_dir)
    study = run.study
    with run, study_lock(study):
        removed = recover_lake(run, logger)
        record = RunRecord("nightly", study, parameters={"study_dir": str(study.root)})
        with gc_paused():  # a path, a cache entry and a report line per inbox file
            # files of ids not in roster.csv go through ingest too: it records them as held
            items = inbox_items(study)
            hashes = fingerprints_of(study)
            fresh = new_items(items, run.known_file_ids(), hashes)
            hashes.save()
        logger.info("inbox: %d units, %d new", len(items), len(fresh))
        c = study.config.ingest
        new_paths = [f for i in fresh for f in files_of(i)]
        with ProgressBar(
            RunProgress(len(new_paths), size_of(new_paths)), title="nightly", show=show_progress
        ) as bar:
            report, shards = ingest_concurrently(
                run, fresh, c.max_concurrent_files, c.backfill_batch_participants, bar
            )
            with gc_paused():
                known = already_ingested(items, report)
                report.known_members += known_archive_members(known, run.lake, hashes.file_id)
                report.outcomes = known + report.outcomes
            report.outcomes += damage_outcomes(
                study, run.lake
            )  # committed parts missing or unreadable: named
            touched = touched_weeks_of(study, report)
            bar.enter("derive")
            logger.info(
                "new rows touch %d participant-weeks of %d participants",
                touched.height,
                touched["participant_id"].n_unique(),
            )
            derived = derive_weeks(
                run, touched
            )  # nothing touched and config unchanged: no write at all
            state = finish_run(
                record,
                report,
                derived.weekly,
                title=f"irisin nightly: {study.config.study.name}",
                extra={
                    "touched": week_rows(touched),
                    "full_recompute": derived.full,
                    "recovered_parts": len(removed),
                    "ingest_task_runs": shards,
                },
            )
            bar.enter("publish")
            publish_warehouse(run)
    return state  # type: ignore[no-any-return]  # a Completed state carrying the dict: calling the flow returns the dict
