"""The rescore flow: recompute features and scores from the lake after ``study.toml`` or the roster changed.

No raw file is read again: the weekly, daily and score tables are rebuilt
from the canonical rows in the lake under the current configuration, every
weekly row carries the new ``config_hash``, and the run records both the
hash it replaced and the one it used.

With ``[execution] engine = "dask"`` the recompute runs as participant
shards on the Dask cluster (``flows.engine``): one task run per shard of
``[ingest] backfill_batch_participants`` (at most ``pipeline.jobs.MAX_SHARDS``),
each reading its participants' lake parts on a worker and sending back their
tables; the flow process joins them, scores and writes once, so the derived
tables equal a local rescore's.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.engine import recompute, shard_runner
from flows.reporting import finish_run
from flows.tasks import StudyRun, publish_warehouse, study_lock
from ingest.pipeline import IngestReport
from pipeline.jobs import RunRecord, damage_outcomes, derived_of, recover_store


def previous_config_hash(run: StudyRun) -> str | None:
    """The config hash the current weekly table was computed with (None before the first run)."""
    weekly = derived_of(run.study).read("weekly")
    return None if weekly is None or weekly.height == 0 else str(weekly["config_hash"][0])


@flow(
    name="irisin-rescore",
    description="Recompute weekly minutes, status and scores from the lake under the current study.toml.",
    persist_result=False,
)
def rescore_flow(study_dir: str) -> dict[str, Any]:
    """Recompute every participant-week of the study at ``study_dir`` from the lake; returns the run result."""
    logger = get_run_logger()
    run = StudyRun.open(study_dir)
    study = run.study
    with study_lock(study):
        recover_store(study, run.lake)
        before, now = previous_config_hash(run), study.inputs_hash()
        logger.info("rescoring with config %s (weekly table was computed with %s)", now, before)
        record = RunRecord("rescore", study, parameters={"study_dir": str(study.root)})
        execution = study.config.execution.resolved()
        runs: list[int] = []
        with shard_runner(execution) as remote:
            derived = recompute(run, None, remote, runs)
        state = finish_run(
            record,
            IngestReport(damage_outcomes(study, run.lake)),
            derived.weekly,
            title=f"irisin rescore: {study.config.study.name}",
            extra={
                "previous_config_hash": before,
                "config_changed": before != now,
                "weeks": derived.weekly.height,
                "engine": execution.engine,
                "derive_task_runs": sum(runs),
            },
        )
        publish_warehouse(run)
    return state  # type: ignore[no-any-return]  # a Completed state carrying the dict: calling the flow returns the dict
