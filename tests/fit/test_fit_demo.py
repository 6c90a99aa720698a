"""Demo FIT files read back through read_fit give the truth they were written from."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from ingest.contract import ReadContext
from ingest.fit.reader import read_fit
from pipeline.demo.cohort import COHORT, truth_minutes
from pipeline.demo.fit_files import write_activity, write_monitoring_days

PARTICIPANT = next(p for p in COHORT if p.fmt == "fit")


@pytest.fixture(scope="module")
def truth() -> pl.DataFrame:
    """Four weeks from the study start: they cross the EU DST change (29 March)."""
    return truth_minutes(PARTICIPANT, seed=1, weeks=4)


def _read_all(paths: list[Path], table: str) -> pl.DataFrame:
    frames = []
    for path in paths:
        result = read_fit(
            path.read_bytes(),
            ReadContext(PARTICIPANT.participant_id, "f", path.name, PARTICIPANT.timezone),
        )
        assert (result.kind, result.status) in (("fit_monitoring", "ok"), ("fit_activity", "ok")), (
            result.reason
        )
        frames.append(pl.from_arrow(result.tables[table]))
    return pl.concat(frames)


def test_monitoring_days_round_trip_steps_heart_rate_intensity_and_offset(
    truth: pl.DataFrame, tmp_path: Path
) -> None:
    paths = write_monitoring_days(truth, tmp_path, device_serial=3_900_000_001)
    assert (
        len(paths)
        == truth.select(
            (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes")))
            .dt.date()
            .n_unique()
        ).item()
    )
    got = _read_all(paths, "minutes").sort("minute_utc")
    expected = truth.sort("minute_utc").with_columns(pl.col("heart_rate_bpm").round())
    assert got["minute_utc"].to_list() == expected["minute_utc"].to_list()
    for column in ("steps", "heart_rate_bpm", "intensity", "utc_offset_minutes"):
        assert got[column].to_list() == expected[column].to_list(), column
    assert set(expected["utc_offset_minutes"]) == {60, 120}  # the DST change is in there


def test_monitoring_day_totals_match_the_truth_days(truth: pl.DataFrame, tmp_path: Path) -> None:
    totals = _read_all(
        write_monitoring_days(truth, tmp_path, device_serial=7), "daily_totals"
    ).sort("local_date")
    days = (
        truth.with_columns(
            (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes")))
            .dt.date()
            .alias("local_date")
        )
        .group_by("local_date")
        .agg(
            pl.col("steps").sum().cast(pl.Int32),
            (pl.col("intensity") == "moderate").sum().cast(pl.Int32).alias("moderate_minutes"),
            (pl.col("intensity") == "vigorous").sum().cast(pl.Int32).alias("vigorous_minutes"),
        )
        .sort("local_date")
    )
    assert totals.select(days.columns).to_dicts() == days.to_dicts()


def test_activity_file_round_trip_per_minute_steps_and_heart_rate(
    truth: pl.DataFrame, tmp_path: Path
) -> None:
    vigorous = truth.filter(pl.col("intensity") == "vigorous").sort("minute_utc")
    start = vigorous["minute_utc"][0]
    end = start + timedelta(minutes=20)
    path = write_activity(truth, start, end, tmp_path / "run.fit", "running")
    minutes = _read_all([path], "minutes").sort("minute_utc")
    expected = truth.filter((pl.col("minute_utc") >= start) & (pl.col("minute_utc") < end)).sort(
        "minute_utc"
    )
    assert expected.height >= 5
    assert minutes["minute_utc"].to_list() == expected["minute_utc"].to_list()
    assert minutes["steps"].to_list() == expected["steps"].to_list()
    assert minutes["heart_rate_bpm"].to_list() == expected["heart_rate_bpm"].round().to_list()
    session = _read_all([path], "sessions").row(0, named=True)
    assert (session["sport"], session["start_utc"], session["end_utc"]) == ("running", start, end)
    assert session["steps"] == pytest.approx(expected["steps"].sum(), abs=2)
