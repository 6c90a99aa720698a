"""Write the demo study: config, roster, raw device files per participant, truth.

``generate_demo(out)`` produces the same bytes for the same seed. Raw files
land in ``inbox/<participant_id>/`` in the participant's format; the expected
weekly table lands in ``truth/weekly.csv`` (outside the inbox, so the
pipeline never reads it).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from config.layout import default_study_toml
from config.roster import ROSTER_SCHEMA, write_roster
from pipeline.demo.cohort import COHORT, DemoParticipant, device_minutes, truth_minutes
from pipeline.demo.drops import drop_as_people_do
from pipeline.demo.truth import expected_weekly

DEFAULT_SEED = 20180101


@dataclass(frozen=True)
class DemoStudy:
    """Where the demo study was written and what it should produce."""

    root: Path
    truths: dict[str, pl.DataFrame]
    expected_weekly: pl.DataFrame


def fitabase_id(p: DemoParticipant) -> str:
    """A stable ten-digit Fitabase-style Id for a participant."""
    return str(1_000_000_000 + zlib.crc32(p.participant_id.encode()) % 9_000_000_000)


def _write_fit(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
    from pipeline.demo.fit_files import write_monitoring_days

    write_monitoring_days(
        truth,
        folder / "garmin-sync",
        device_serial=3_900_000_000 + int(p.participant_id[1:]),
        profile=None if p.roster_hr_params else (p.resting_hr, p.max_hr),
        labels=p.roster_hr_params,
    )


def _write_fitbit_json(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
    from pipeline.demo.fitbit_files import write_takeout_json

    write_takeout_json(truth, folder / "takeout-json", p.timezone)


def _write_fitbit_csv(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
    from pipeline.demo.fitbit_files import write_takeout_csv

    write_takeout_csv(
        device_minutes(p, truth), folder / "takeout-csv", p.timezone, heart_rate=p.heart_rate
    )


def _write_fitabase(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
    from pipeline.demo.fitbit_files import write_fitabase

    write_fitabase({fitabase_id(p): truth}, folder / "fitabase", {fitabase_id(p): p.timezone})


def _write_garmin(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
    """A Connect export: UDS days, wellness FIT minutes, and a weekly run as an uploaded activity FIT file."""
    import tempfile

    from pipeline.demo.fit_files import activity_bytes, write_monitoring_days
    from pipeline.demo.garmin_files import demo_sessions_from_truth, write_garmin_export

    serial = 3_900_000_000 + int(p.participant_id[1:])
    with tempfile.TemporaryDirectory() as tmp:
        fit_files = {
            f"DI_CONNECT/DI-Connect-Wellness/{path.name}": path.read_bytes()
            for path in write_monitoring_days(truth, Path(tmp), device_serial=serial)
        }
    sessions = demo_sessions_from_truth(truth)
    weekly_run = (
        sessions.with_columns(pl.col("start_utc").dt.truncate("1w").alias("_week"))
        .unique("_week", keep="first", maintain_order=True)
        .drop("_week")
    )
    for row in weekly_run.iter_rows(named=True):
        name = f"{p.participant_id}_{row['start_utc']:%Y%m%dT%H%M}.fit"
        fit_files[name] = activity_bytes(
            truth, row["start_utc"], row["end_utc"], row["sport"], device_serial=serial
        )
    write_garmin_export(
        truth, weekly_run, fit_files, folder / "garmin-connect-export.zip", timezone=p.timezone
    )


def _write_apple(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
    from pipeline.demo.garmin_files import demo_sessions_from_truth
    from pipeline.demo.xml_files import write_apple_health_export

    sessions = demo_sessions_from_truth(truth)
    write_apple_health_export(
        truth, sessions, folder / "export.zip", birth_year=p.birth_year, resting_hr=p.resting_hr
    )


def _with_activity_files(
    write: Callable[[DemoParticipant, pl.DataFrame, Path], None], suffix: str
) -> Callable[[DemoParticipant, pl.DataFrame, Path], None]:
    """A writer plus a weekly TCX or GPX run drawn from the same truth (its minutes overlap, counted once)."""

    def both(p: DemoParticipant, truth: pl.DataFrame, folder: Path) -> None:
        from pipeline.demo.garmin_files import demo_sessions_from_truth
        from pipeline.demo.xml_files import write_weekly_activities

        write(p, truth, folder)
        write_weekly_activities(truth, demo_sessions_from_truth(truth), folder / "strava", suffix)

    return both


WRITERS: dict[str, Callable[[DemoParticipant, pl.DataFrame, Path], None]] = {
    "fit": _write_fit,
    "fitbit_json": _write_fitbit_json,
    "fitbit_csv": _write_fitbit_csv,
    "fitabase": _write_fitabase,
    "garmin_export": _write_garmin,
    "apple_health": _write_apple,
    "fit+tcx": _with_activity_files(_write_fit, ".tcx"),
    "fit+gpx": _with_activity_files(_write_fit, ".gpx"),
}


def demo_study_toml() -> str:
    """The default study.toml with the demo's name and zone."""
    text = default_study_toml()
    text = text.replace('name = "irisin study"', 'name = "irisin demo cohort"', 1)
    return text.replace('timezone = "UTC"', 'timezone = "Europe/Oslo"', 1)


def generate_demo(
    out: Path, *, seed: int = DEFAULT_SEED, cohort: tuple[DemoParticipant, ...] = COHORT
) -> DemoStudy:
    """Write the demo study folder and return its truth."""
    out = Path(out)
    (out / "inbox").mkdir(parents=True, exist_ok=True)
    (out / "study.toml").write_text(demo_study_toml(), encoding="utf-8")
    roster = (
        pl.DataFrame(
            {
                "participant_id": [p.participant_id for p in cohort],
                "timezone": [p.roster_zone for p in cohort],
                "birth_year": [p.birth_year if p.roster_hr_params else None for p in cohort],
                "resting_hr": [float(p.resting_hr) if p.roster_hr_params else None for p in cohort],
                "max_hr": [float(p.max_hr) if p.roster_hr_params else None for p in cohort],
                "fitabase_id": [fitabase_id(p) if p.fmt == "fitabase" else None for p in cohort],
            }
        )
        .with_columns(
            pl.lit(None, pl.Date).alias("start_date"), pl.lit(None, pl.Date).alias("end_date")
        )
        .select(list(ROSTER_SCHEMA))
    )
    write_roster(roster, out / "roster.csv")
    truths = {p.participant_id: truth_minutes(p, seed) for p in cohort}
    for p in cohort:
        folder = out / "inbox" / p.participant_id
        folder.mkdir(parents=True, exist_ok=True)
        WRITERS[p.fmt](p, truths[p.participant_id], folder)
        drop_as_people_do(p.participant_id, folder)
    expected = expected_weekly(truths, cohort)
    (out / "truth").mkdir(exist_ok=True)
    expected.write_csv(out / "truth" / "weekly.csv")
    return DemoStudy(out, truths, expected)
