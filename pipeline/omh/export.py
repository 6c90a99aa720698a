"""``irisin export omh``: write each participant's Open mHealth data points under ``OUT/<participant_id>/``.

Files (JSON Lines, one data point per line): ``step-count.jsonl``,
``heart-rate.jsonl`` and ``physical-activity.jsonl`` (sessions, then weeks).
Each is written to a temporary name and renamed into place. Only trusted
sources (``[intensity] source_precedence``) are exported, as for scoring.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson
import polars as pl

from config import Study
from config.participant_id import validate_participant_id
from pipeline.omh.datapoints import minute_points, minutes_once, session_points, weekly_points
from store.atomic import write_with

FILES = ("step-count", "heart-rate", "physical-activity")


def _write_lines(path: Path, points: list[bytes]) -> None:
    def lines(out: BinaryIO) -> None:
        for line in points:
            out.write(line)
            out.write(b"\n")

    write_with(path, lines)


def export_omh(study: Study, out: Path, weekly: pl.DataFrame | None = None) -> Counter[str]:
    """Write every participant's data points; returns data points written per schema.

    ``weekly``: the study's weekly table when the caller has it; otherwise it is
    read, or derived under the study lock (``pipeline.jobs.weekly_for_reading``).
    """
    from pipeline.jobs import lake_of, weekly_for_reading

    lake = lake_of(study)
    trusted = study.config.intensity.source_precedence
    manifest = lake.manifest()
    paths = dict(zip(manifest["file_id"].to_list(), manifest["path"].to_list(), strict=True))
    if weekly is None:
        weekly = weekly_for_reading(study)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config_hash = study.inputs_hash()  # the hash the weekly rows carry (config and roster)
    zones = dict(
        zip(
            study.roster["participant_id"].to_list(),
            study.roster["timezone"].to_list(),
            strict=True,
        )
    )
    threshold = study.config.scoring.threshold_minutes_per_week
    counts: Counter[str] = Counter()
    participants = sorted(set(lake.participants()) | set(weekly["participant_id"].to_list()))
    for pid in participants:
        minutes = lake.scan("minutes", [pid]).filter(pl.col("source").is_in(trusted)).collect()
        sessions = lake.scan("sessions", [pid]).filter(pl.col("source").is_in(trusted)).collect()
        lines: dict[str, list[bytes]] = {name: [] for name in FILES}
        if minutes.height:
            for name, point in minute_points(minutes_once(minutes), paths, created, config_hash):
                lines[name].append(orjson.dumps(point))
        if sessions.height:
            lines["physical-activity"] += [
                orjson.dumps(p) for p in session_points(sessions, paths, created, config_hash)
            ]
        weeks = weekly.filter(pl.col("participant_id") == pid)
        lines["physical-activity"] += [
            orjson.dumps(p)
            for p in weekly_points(
                weeks, {pid: zones.get(pid) or study.timezone_of(pid)}, created, threshold
            )
        ]
        folder = out / validate_participant_id(pid, "lake participant")
        folder.mkdir(parents=True, exist_ok=True)
        for name, points in lines.items():
            _write_lines(folder / f"{name}.jsonl", points)
            counts[name] += len(points)
    return counts
