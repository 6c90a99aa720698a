"""The demo cohort's Fitbit participants: written by the demo generator, read back to their truth."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ingest.fitbit import read_fitabase_export, read_fitbit_export
from pipeline.demo.cohort import COHORT, DemoParticipant, device_minutes, truth_minutes
from pipeline.demo.fitbit_files import write_fitabase, write_takeout_csv, write_takeout_json
from pipeline.demo.generate import fitabase_id
from tests.fitbit.helpers import ctx, members_of_folder, table

SEED = 20180101
WEEKS = 2


def _participants(fmt: str) -> list[DemoParticipant]:
    return [p for p in COHORT if p.fmt == fmt]


def _local_day(col: str, tz: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(tz).dt.date()


@pytest.mark.parametrize("p", _participants("fitbit_json"), ids=lambda p: p.participant_id)
def test_takeout_json_demo_reads_back_to_truth(p: DemoParticipant, tmp_path: Path) -> None:
    truth = truth_minutes(p, SEED, weeks=WEEKS)
    results = read_fitbit_export(
        members_of_folder(write_takeout_json(truth, tmp_path, p.timezone)), ctx(p.timezone)
    )
    assert {r.status for r in results.values()} == {"ok"}
    hr = table(results, "minutes", "fitbit_json_heart_rate").select(
        "minute_utc", pl.col("heart_rate_bpm").alias("hr")
    )
    steps = table(results, "minutes", "fitbit_json_steps").select(
        "minute_utc", pl.col("steps").alias("st")
    )
    got = truth.join(hr, on="minute_utc", how="left").join(steps, on="minute_utc", how="left")
    assert (got["st"] == got["steps"]).all()
    assert (
        got["hr"].equals(got["heart_rate_bpm"], check_names=False, null_equal=True)
        if hasattr(got["hr"], "equals")
        else False
    )
    daily = table(results, "daily_totals")
    vigorous = daily.filter(pl.col("vigorous_minutes").is_not_null()).select(
        "local_date", "vigorous_minutes"
    )
    expected = truth.group_by(_local_day("minute_utc", p.timezone).alias("local_date")).agg(
        (pl.col("intensity") == "vigorous").sum().cast(pl.Int32).alias("want")
    )
    compared = vigorous.join(expected, on="local_date", how="left").with_columns(
        pl.col("want").fill_null(0)
    )
    assert (compared["vigorous_minutes"] == compared["want"]).all()


@pytest.mark.parametrize("p", _participants("fitbit_csv"), ids=lambda p: p.participant_id)
def test_takeout_csv_demo_reads_back_to_truth(p: DemoParticipant, tmp_path: Path) -> None:
    truth = device_minutes(p, truth_minutes(p, SEED, weeks=WEEKS))  # what the device reports
    written = write_takeout_csv(truth, tmp_path, p.timezone, heart_rate=p.heart_rate)
    results = read_fitbit_export(members_of_folder(written), ctx(p.timezone))
    assert {r.status for r in results.values()} == {"ok"}
    label = table(results, "minutes", "fitbit_csv_active_minutes").select(
        "minute_utc", pl.col("intensity").alias("i")
    )
    steps = table(results, "minutes", "fitbit_csv_steps").select(
        "minute_utc", pl.col("steps").alias("st")
    )
    got = truth.join(label, on="minute_utc", how="left").join(steps, on="minute_utc", how="left")
    assert (got["i"].fill_null("sedentary") == got["intensity"]).all()
    assert (got["st"] == got["steps"]).all() and got["st"].null_count() == 0
    if not p.heart_rate:  # a step-only device: no heart-rate file is written, and none is read
        assert not list(written.rglob("heart_rate_*"))
        assert table(results, "minutes", "fitbit_csv_heart_rate").height == 0
        return
    hr = table(results, "minutes", "fitbit_csv_heart_rate").select(
        "minute_utc", pl.col("heart_rate_bpm").alias("hr")
    )
    got = got.join(hr, on="minute_utc", how="left")
    assert (got["hr"] == got["heart_rate_bpm"]).all()


@pytest.mark.parametrize("p", _participants("fitabase"), ids=lambda p: p.participant_id)
def test_fitabase_demo_reads_back_to_truth(p: DemoParticipant, tmp_path: Path) -> None:
    _assert_fitabase_round_trip(p, truth_minutes(p, SEED, weeks=WEEKS), tmp_path)


@pytest.mark.slow
def test_fitabase_demo_whole_study_reads_back_to_truth(tmp_path: Path) -> None:
    # 2 March to 26 April: "3/4/2026" and "4/3/2026" both occur, and the US DST change
    p = next(p for p in _participants("fitabase") if p.timezone == "America/Los_Angeles")
    _assert_fitabase_round_trip(p, truth_minutes(p, SEED), tmp_path)


def _assert_fitabase_round_trip(p: DemoParticipant, truth: pl.DataFrame, tmp_path: Path) -> None:
    fid = fitabase_id(p)
    root = write_fitabase({fid: truth}, tmp_path, {fid: p.timezone})
    results = read_fitabase_export(
        members_of_folder(root), ctx(p.timezone, id_map={fid: p.participant_id})
    )
    assert {r.status for r in results.values()} == {"ok"}
    got = truth
    for kind, col in (
        ("fitabase_minute_intensities_narrow", "intensity"),
        ("fitabase_minute_steps_narrow", "steps"),
        ("fitabase_heartrate_seconds", "heart_rate_bpm"),
    ):
        part = table(results, "minutes", kind).select(
            "minute_utc", pl.col(col).alias("got"), "participant_id"
        )
        assert set(part["participant_id"]) == {p.participant_id}
        joined = got.join(part, on="minute_utc", how="left")
        assert (joined["got"] == joined[col]).all(), kind
