"""The end of every run: summary, artifacts, run record, and the final Prefect state.

A run whose files were partly read, quarantined or could not be read this
time still completes; its final state is ``Completed`` with a message that
names the problems, so a dashboard of flow runs shows it as a warning, not
as a crash.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl
from prefect import get_run_logger
from prefect.states import Completed

from flows.artifacts import publish_run_artifacts
from ingest.pipeline import IngestReport
from pipeline.jobs import RunRecord, lake_of
from pipeline.lake_cache import LakeCache
from pipeline.summary import attention_table, summary_markdown

WARNING_STATUSES: tuple[str, ...] = ("partial", "quarantined", "failed")
"""File outcomes that make a run 'completed with warnings'."""


def warnings_of(report: IngestReport) -> str | None:
    """One line naming the files that need a look, or None when every new file was read in full."""
    counts = Counter(o.status for o in report.outcomes if o.new)
    parts = [f"{counts[s]} {s}" for s in WARNING_STATUSES if counts.get(s)]
    return None if not parts else "files need attention: " + ", ".join(parts)


def week_rows(weeks: pl.DataFrame) -> list[dict[str, Any]]:
    """Participant-weeks as plain sorted rows with ISO dates, for a run's result."""
    return (
        weeks.select("participant_id", pl.col("week_start").cast(pl.String))
        .sort("participant_id", "week_start")
        .to_dicts()
    )


def finish_run(
    record: RunRecord,
    report: IngestReport,
    weekly: pl.DataFrame,
    *,
    title: str,
    extra: dict[str, Any] | None = None,
    inputs: list[str] | None = None,
) -> Any:
    """Write the summary everywhere (artifacts, run_info.json, runs table) and return the final state.

    The state's data is the dict the CLI prints from: ``summary`` (markdown),
    ``files`` counts, ``run_id``, ``status``, ``run_info`` and ``attention``
    rows, plus ``extra``. ``inputs``: the exports handed over (files or
    folders), for the per-export lines; inbox paths need none (the entry right
    under ``inbox/<participant>/`` is the export).
    """
    study = record.study
    # the last heart-rate days read every minute of the lake: reused while the lake is unchanged
    attention = attention_table(study, cache=LakeCache(study, lake_of(study)))
    from pipeline.intake_report import export_lines, file_counts, unreadable
    from pipeline.jobs import derived_of
    from pipeline.validity import NOTES_TABLE, data_quality_notes

    intake = unreadable(report, inputs or [])
    per_export = export_lines(report, inputs or [])
    if (
        intake
    ):  # participants whose new files gave nothing: the coordinator must look at what was dropped
        rows = pl.DataFrame(
            {
                "participant_id": [u.participant_id for u in intake],
                "reason": [
                    f"nothing readable in {u.folder} ({u.files} files): {u.reason}" for u in intake
                ],
            }
        )
        attention = pl.concat([attention, rows], how="vertical_relaxed")
    summary = summary_markdown(
        title,
        report,
        weekly,
        attention,
        study.config,
        data_quality_notes(study, derived_of(study).read_rebuildable(NOTES_TABLE)),
        per_export,
    )
    warning = warnings_of(report)
    if intake:
        names = ", ".join(f"{u.participant_id} ({u.folder})" for u in intake)
        warning = f"{warning}; " if warning else ""
        warning += f"nothing readable for {names}"
    status = "completed" if warning is None else "completed_with_warnings"
    publish_run_artifacts(study.root.name, record.flow, summary, attention)
    info_path = record.finish(report, summary, status)
    statuses = Counter(o.status for o in report.outcomes if o.new)
    counts = file_counts(report.outcomes, report.known_members)
    result: dict[str, Any] = {
        "run_id": record.run_id,
        "flow": record.flow,
        "status": status,
        "summary": summary,
        "files": {
            "seen": counts.on_disk,  # files on disk; archive members apart
            "on_disk": counts.on_disk,
            "archive_members": counts.members,
            "new": report.new_files,
            **{
                s: statuses.get(s, 0) for s in ("ok", "partial", "quarantined", "skipped", "failed")
            },
        },
        "attention": attention.to_dicts(),
        "per_export": per_export,
        "run_info": str(info_path),
        "intake_warning": (
            f"nothing readable for {', '.join(u.participant_id for u in intake)}: see Needs attention"
            if intake
            else None
        ),
        "config_hash": study.inputs_hash(),
        **(extra or {}),
    }
    message = f"irisin {record.flow}: {report.new_files} new files"
    if warning is not None:
        message += f"; {warning}"
        get_run_logger().warning(message)
    else:
        get_run_logger().info(message)
    return Completed(message=message, data=result)
