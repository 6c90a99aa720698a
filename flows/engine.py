"""Where a flow's participant shards run: this machine's task runner, or a Dask cluster.

``[execution] engine = "dask"`` sends every shard of a backfill or a rescore
to a Dask cluster through ``prefect_dask.DaskTaskRunner``; each shard is one
Prefect task run (a few hundred per cohort at most, never one per file or
participant). A shard task gets only picklable things (the study folder,
participant ids, inbox items), opens the study itself on the worker, writes
its participants' lake parts there (each participant has a folder of its own,
so shards never write the same file) and sends back its report. The flow
process keeps the checkpoint, the progress and everything written once per
run (derived tables, warehouse, run record).

Dask (``distributed``, ``prefect_dask``) is imported only when the engine is
``dask``: a local run never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from prefect.futures import PrefectFuture

from config import open_study
from config.study import ExecutionSection
from flows.tasks import StudyRun, derive_weeks, pipeline_task
from pipeline.jobs import DeriveResult, ShardMap, ShardTables, derive, shard_tables

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner


def dask_task_runner(execution: ExecutionSection) -> TaskRunner[Any]:
    """A ``DaskTaskRunner`` on the configured scheduler, or on a ``LocalCluster`` started for the run.

    A LocalCluster gets one thread per worker process: shards are CPU work
    that threads of one process cannot share (the GIL).
    """
    from prefect_dask.task_runners import DaskTaskRunner

    runner: TaskRunner[Any]  # prefect_dask is untyped
    if execution.dask_address:
        runner = DaskTaskRunner(address=execution.dask_address)
        return runner
    kwargs: dict[str, Any] = {"threads_per_worker": 1, "processes": True}
    if execution.dask_workers:
        kwargs["n_workers"] = execution.dask_workers
    runner = DaskTaskRunner(cluster_kwargs=kwargs)
    return runner


@contextmanager
def shard_runner(execution: ExecutionSection) -> Iterator[TaskRunner[Any] | None]:
    """The entered Dask task runner when the engine is ``dask``; None for ``local`` (the flow's own runner)."""
    if execution.engine != "dask":
        yield None
        return
    with dask_task_runner(execution) as runner:
        yield runner


@pipeline_task("derive-shard", run_name="derive shard {index}")
def derive_shard_on_worker(study_dir: str, index: int, participants: list[str]) -> ShardTables:
    """One shard of a rescore on a Dask worker: the study opened there, its participants' rows read there."""
    return shard_tables(open_study(Path(study_dir)), participants)


def on_workers(runner: TaskRunner[Any], study_dir: str, runs: list[int]) -> ShardMap:
    """A ``ShardMap`` submitting one ``derive_shard_on_worker`` task run per shard to ``runner``.

    ``runs`` gets the number of task runs submitted (the run record reports it).
    """

    def compute(shards: list[list[str]]) -> list[ShardTables]:
        futures: list[PrefectFuture[ShardTables]] = [
            runner.submit(
                derive_shard_on_worker,
                {"study_dir": study_dir, "index": k, "participants": shard},
            )
            for k, shard in enumerate(shards)
        ]
        runs.append(len(futures))
        return [f.result() for f in futures]  # a shard that failed after its retries fails the run

    return compute


def recompute(
    run: StudyRun, scope: pl.DataFrame | None, runner: TaskRunner[Any] | None, runs: list[int]
) -> DeriveResult:
    """The weeks in ``scope`` (every week when None) recomputed: here in one derive task, or, for a
    full recompute with a Dask ``runner``, in participant shards on its workers.

    ``runs`` gets the task runs made (1, or one per shard).
    """
    if runner is None or scope is not None:
        runs.append(1)
        return derive_weeks(run, scope)
    return derive(run.study, None, map_shards=on_workers(runner, str(run.study.root), runs))
