"""The pipeline's steps as plain functions: find inputs, ingest, derive, publish.

The CLI and the Prefect flows both call these; flows add retries,
concurrency and observability around them, nothing else. Each step is
idempotent and leaves the store consistent if interrupted.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from config import Study
from ingest.pipeline import Ingestor, IngestReport, file_id_of, looks_like_fit
from irisin import __version__
from store.derived import DerivedStore
from store.lake import Lake
from store.warehouse import WAREHOUSE_FILE, refresh_warehouse


@dataclass(frozen=True)
class InboxItem:
    """One unit of ingestion: a file, or an export folder read as a whole."""

    participant_id: str
    path: Path


def lake_of(study: Study) -> Lake:
    return Lake(study.paths.store / "lake")


def derived_of(study: Study) -> DerivedStore:
    return DerivedStore(study.paths.store / "derived")


def warehouse_path(study: Study) -> Path:
    return study.paths.store / WAREHOUSE_FILE


def _is_fit_only(folder: Path) -> bool:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return bool(files) and all(looks_like_fit(p.name, b"") for p in files)


def inbox_items(study: Study, participants: Iterable[str] | None = None) -> list[InboxItem]:
    """Every unit waiting in ``inbox/<participant_id>/`` and the extra inbox paths.

    A folder of FIT files is split into one unit per file (they are
    independent); any other folder is an export and is read as one unit,
    because its files explain each other (clock detection, Ids).
    """
    roots = [study.paths.inbox] + [
        (study.root / p) if not Path(p).is_absolute() else Path(p) for p in study.config.ingest.extra_inbox_paths
    ]
    want = None if participants is None else set(participants)
    items: list[InboxItem] = []
    for root in roots:
        if not root.is_dir():
            continue
        for pdir in sorted(p for p in root.iterdir() if p.is_dir()):
            pid = pdir.name
            if want is not None and pid not in want:
                continue
            for entry in sorted(pdir.iterdir()):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir() and _is_fit_only(entry):
                    items += [InboxItem(pid, f) for f in sorted(entry.rglob("*")) if f.is_file()]
                else:
                    items.append(InboxItem(pid, entry))
    return items


def new_items(items: list[InboxItem], known: set[str]) -> list[InboxItem]:
    """Drop files whose bytes are already in the manifest (folders are checked member by member)."""
    return [i for i in items if i.path.is_dir() or file_id_of(i.path.read_bytes()) not in known]


def ingest_item(study: Study, item: InboxItem, lake: Lake | None = None) -> IngestReport:
    """Ingest one unit; bad input becomes quarantined rows, never an exception."""
    return Ingestor(study, lake or lake_of(study)).ingest_one(item.participant_id, item.path)


@dataclass
class DeriveResult:
    """What a derive step recomputed."""

    touched: pl.DataFrame
    weekly: pl.DataFrame
    full: bool


def touched_weeks_of(study: Study, report: IngestReport) -> pl.DataFrame:
    """Participant-weeks that the new rows of an ingest touch."""
    from features.incremental import touched_weeks

    return touched_weeks(report.touched_minutes().lazy(), report.touched_days().lazy(), study.roster, study.config)


def derive(study: Study, touched: pl.DataFrame | None = None) -> DeriveResult:
    """Recompute weekly (only ``touched`` participant-weeks, or all), daily, scores; write derived tables."""
    from features.daily import daily_table, hourly_wear
    from features.weekly import weekly_table
    from models.adherence import participant_scores
    from models.cohort import cohort_weekly

    lake, derived = lake_of(study), derived_of(study)
    cfg, chash = study.config, study.inputs_hash()
    previous = derived.read("weekly")
    full = touched is None or previous is None or (previous.height and previous["config_hash"][0] != chash)
    if full:
        weekly = weekly_table(
            lake.scan("minutes"), lake.scan("daily_totals"), lake.scan("profiles"), study.roster, cfg, config_hash=chash
        )
        daily = daily_table(lake.scan("minutes"), lake.scan("daily_totals"), lake.scan("profiles"), study.roster, cfg)
        hourly = hourly_wear(lake.scan("minutes"), study.roster, cfg)
        touched = weekly.select("participant_id", "week_start")
    else:
        assert touched is not None and previous is not None
        if touched.height == 0:
            return DeriveResult(touched, previous, False)
        pids = touched["participant_id"].unique().to_list()
        scans = {t: lake.scan(t, pids) for t in ("minutes", "daily_totals", "profiles")}
        fresh = weekly_table(
            scans["minutes"], scans["daily_totals"], scans["profiles"], study.roster, cfg, config_hash=chash, only=touched
        )
        weekly = pl.concat(
            [previous.join(touched, on=["participant_id", "week_start"], how="anti"), fresh], how="vertical_relaxed"
        )
        # Daily and hourly tables are per participant: recompute the touched participants.
        old_daily, old_hourly = derived.read("daily"), derived.read("hourly_wear")
        new_daily = daily_table(scans["minutes"], scans["daily_totals"], scans["profiles"], study.roster, cfg)
        new_hourly = hourly_wear(scans["minutes"], study.roster, cfg)
        keep = pl.col("participant_id").is_in(pids).not_()
        daily = new_daily if old_daily is None else pl.concat([old_daily.filter(keep), new_daily], how="vertical_relaxed")
        hourly = (
            new_hourly if old_hourly is None else pl.concat([old_hourly.filter(keep), new_hourly], how="vertical_relaxed")
        )
    weekly = weekly.sort("participant_id", "week_start")
    derived.write("weekly", weekly)
    derived.write("daily", daily.sort("participant_id", "local_date"))
    derived.write("hourly_wear", hourly)
    derived.write("participant_scores", participant_scores(weekly, cfg))
    derived.write("cohort_weekly", cohort_weekly(weekly, cfg))
    return DeriveResult(touched, weekly, bool(full))


def publish(study: Study) -> Path:
    """Rebuild the DuckDB warehouse from the lake and derived tables."""
    derived = derived_of(study)
    derived.write("roster", study.roster)
    return refresh_warehouse(lake_of(study), derived, warehouse_path(study))


@dataclass
class RunRecord:
    """What one run did; written to runs/<run_id>/run_info.json and the runs table."""

    flow: str
    study: Study
    run_id: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6])
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    parameters: dict[str, Any] = field(default_factory=dict)

    def finish(self, report: IngestReport, summary_markdown: str, status: str) -> Path:
        """Write run_info.json and append the run to the derived ``runs`` table."""
        finished = datetime.now(UTC)
        statuses = [o.status for o in report.outcomes if o.new]
        info = {
            "run_id": self.run_id,
            "flow": self.flow,
            "irisin_version": __version__,
            "started_at": self.started_at.isoformat(),
            "finished_at": finished.isoformat(),
            "status": status,
            "parameters": self.parameters,
            "config_hash": self.study.config.hash(),
            "inputs_hash": self.study.inputs_hash(),
            "config": json.loads(self.study.config.canonical_json()),
            "files": {
                "seen": len(report.outcomes),
                "new": len(statuses),
                **{s: statuses.count(s) for s in ("ok", "partial", "quarantined", "skipped")},
            },
        }
        folder = self.study.paths.runs / self.run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "run_info.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, path)
        row = pl.DataFrame(
            {
                "run_id": [self.run_id],
                "flow": [self.flow],
                "started_at": [self.started_at],
                "finished_at": [finished],
                "status": [status],
                "summary_markdown": [summary_markdown],
                "files_seen": [info["files"]["seen"]],
                "files_new": [info["files"]["new"]],
                "files_ok": [info["files"]["ok"]],
                "files_partial": [info["files"]["partial"]],
                "files_quarantined": [info["files"]["quarantined"]],
                "config_hash": [info["inputs_hash"]],
            }
        )
        derived = derived_of(self.study)
        old = derived.read("runs")
        derived.write("runs", row if old is None else pl.concat([old, row], how="vertical_relaxed"))
        return path
