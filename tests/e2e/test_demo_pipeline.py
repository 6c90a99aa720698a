"""End to end without Prefect: the demo study through ingest, features and scores equals its truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from config import Study
from config.schema import WEEKLY_EXPORT_COLUMNS
from ingest.pipeline import Ingestor
from pipeline.demo.generate import DemoStudy, generate_demo
from pipeline.jobs import derived_of, inbox_items, ingest_item, lake_of
from store.warehouse import connect_read_only
from tests.built_demo import build_demo_study

pytestmark = pytest.mark.slow  # generates the demo study and runs the whole pipeline on it


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoStudy, Study]:
    return build_demo_study(tmp_path_factory.mktemp("e2e") / "demo")


def test_weekly_equals_truth(demo: tuple[DemoStudy, Study]) -> None:
    result, study = demo
    weekly = derived_of(study).read("weekly")
    assert weekly is not None
    got = weekly.select(WEEKLY_EXPORT_COLUMNS).sort("participant_id", "week_start")
    want = result.expected_weekly.sort("participant_id", "week_start")
    joined = got.join(want, on=["participant_id", "week_start"], how="full", suffix="_truth")
    mismatched = joined.filter(
        pl.any_horizontal(
            pl.col(c).ne_missing(pl.col(f"{c}_truth")) for c in WEEKLY_EXPORT_COLUMNS[2:]
        )
    )
    assert mismatched.height == 0, f"weekly differs from truth:\n{mismatched}"
    assert_frame_equal(got, want, check_dtypes=False)


def test_every_inbox_file_is_in_the_manifest(demo: tuple[DemoStudy, Study]) -> None:
    _, study = demo
    manifest = lake_of(study).manifest()
    assert manifest.filter(pl.col("status") == "quarantined").height == 0
    fit_files = [p for p in (study.paths.inbox).rglob("*") if p.suffix.lower() == ".fit"]
    paths = set(manifest["path"].to_list())
    assert all(str(p) in paths for p in fit_files)


def test_a_zip9_archive_over_20x_is_in_the_demo_and_read(demo: tuple[DemoStudy, Study]) -> None:
    """P11's MyFitbitData.zip is packed at level 9 and expands over 20x (refused whole at 20x of old)."""
    import zipfile

    _, study = demo
    archive = study.paths.inbox / "P11" / "MyFitbitData.zip"
    with zipfile.ZipFile(archive) as zf:
        ratio = sum(i.file_size for i in zf.infolist()) / archive.stat().st_size
        members = len(zf.infolist())
    assert ratio > 20, f"only {ratio:.1f}x"
    manifest = lake_of(study).manifest().filter(pl.col("path").str.starts_with(str(archive)))
    assert manifest.filter(pl.col("path") == str(archive))["status"].to_list() == ["ok"]
    inside = manifest.filter(pl.col("path") != str(archive))
    assert inside.height == members and set(inside["status"]) == {"ok"}
    assert inside["rows_minutes"].sum() > 0


def test_warehouse_has_weekly_and_views(demo: tuple[DemoStudy, Study]) -> None:
    result, study = demo
    con = connect_read_only(study.paths.store / "warehouse.duckdb")
    try:
        n_weekly = con.execute("select count(*) from weekly").fetchone()
        sources = {r[0] for r in con.execute("select distinct source from minutes").fetchall()}
    finally:
        con.close()
    assert n_weekly is not None and n_weekly[0] == result.expected_weekly.height
    assert {"fit_monitoring", "fitbit_takeout", "fitabase"} <= sources


def test_reingest_is_a_no_op(demo: tuple[DemoStudy, Study]) -> None:
    _, study = demo
    before = lake_of(study).manifest().sort("file_id")
    lake = lake_of(study)
    ingestor = Ingestor(study, lake)
    reports = [ingest_item(study, item, lake, ingestor) for item in inbox_items(study)]
    assert sum(r.new_files for r in reports) == 0
    assert lake_of(study).manifest().sort("file_id").equals(before)


def test_demo_is_deterministic(tmp_path: Path) -> None:
    a = generate_demo(tmp_path / "a")
    b = generate_demo(tmp_path / "b")
    assert a.expected_weekly.equals(b.expected_weekly)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "inbox").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b" / "inbox").rglob("*") if p.is_file()
    )
    assert files_a == files_b
    assert all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a
    )


def test_run_summary_flags_the_participants_designed_to_trip_them(
    demo: tuple[DemoStudy, Study],
) -> None:
    from pipeline.summary import attention_table

    _, study = demo
    # "today" = 2026-04-26, the study's latest data (the demo's dates are fixed; "no data" counts to today)
    flags = dict(attention_table(study, as_of=date(2026, 4, 26)).rows())
    # P11 stops syncing after day 34 (2026-04-05)
    assert flags["P11"] == "no data for 21 days"
    # P03 (59 min), P05 (40) and P09 (30) are below the hour in every complete week
    for pid in ("P03", "P05", "P09"):
        assert flags[pid] == "below the hour 7 weeks running"
    # P10 wears the device 8 h a day, under the 600 min/day alert threshold
    assert flags["P10"] == "low wear: 8.0 h/day over 7 days"
    # P14's Fitbit counts steps only: said, though its weeks are scored
    assert flags["P14"] == "no heart rate in the data"
    assert set(flags) == {"P03", "P05", "P09", "P10", "P11", "P14"}


def test_time_zone_check_flags_only_the_participant_with_the_wrong_roster_zone(
    demo: tuple[DemoStudy, Study],
) -> None:
    """P13 lives in Los Angeles and roster.csv says UTC: flagged. P12 (Brisbane, a week without
    wear) and everyone else are not: their first and last partial UTC weeks are not read."""
    from pipeline.validity import zone_mismatches_of

    _, study = demo
    found = zone_mismatches_of(study)
    assert found["participant_id"].to_list() == ["P13"]
    row = found.row(0, named=True)
    assert row["roster_zone"] == "UTC" and row["weeks_disagreeing"] >= 7
    assert row["activity_utc_offset_hours"] in (-8, -7, -6)
    assert "the roster says UTC (UTC); activity looks like UTC-" in row["message"]


def test_step_only_device_is_scored_by_the_step_rule(demo: tuple[DemoStudy, Study]) -> None:
    """P14's Takeout CSV has steps and active minutes, no heart rate, and two hours of zero steps
    before each day's wear (on the nightstand). Every week is scored (met, 85 min), none is
    'insufficient' for lack of heart rate, and the nightstand hours are not worn."""
    _, study = demo
    weekly = derived_of(study).read("weekly")
    assert weekly is not None
    p14 = weekly.filter(pl.col("participant_id") == "P14").sort("week_start")
    assert p14.height == 8
    assert set(p14["status"]) == {"met"}
    assert p14["mvpa_minutes"].to_list() == [85] * 8
    assert set(p14["sources"]) == {"fitbit_takeout"}
    assert all("heart_rate" not in m for m in p14["methods"])
    assert set(p14["hr_params"]) == {"none"}
    # 15 h worn a day; the 2 h a day the device reported zeros on the nightstand are not wear
    assert p14["wear_minutes"].to_list() == [7 * 15 * 60] * 8
    reported = (
        lake_of(study)
        .scan("minutes", ["P14"])
        .filter(pl.col("steps").is_not_null())
        .select("heart_rate_bpm")
        .collect()
    )
    assert reported["heart_rate_bpm"].is_null().all()
    assert reported.height == 8 * 7 * 17 * 60


def test_device_profile_gives_the_heart_rate_parameters(demo: tuple[DemoStudy, Study]) -> None:
    """P15's roster row holds only id and zone; its FIT monitoring files carry the device's resting
    HR (monitoring_hr_data) and max HR (zones_target) and no intensity label, so heart rate
    classifies its minutes with the device's parameters, and its weeks say so."""
    _, study = demo
    weekly = derived_of(study).read("weekly")
    assert weekly is not None
    p15 = weekly.filter(pl.col("participant_id") == "P15")
    assert p15.height == 8
    assert set(p15["hr_params"]) == {"device"}
    assert all("heart_rate" in m for m in p15["methods"])
    assert p15["mvpa_minutes"].to_list() == [70] * 8
    profiles = lake_of(study).scan("profiles", ["P15"]).collect()
    assert set(profiles["resting_heart_rate_bpm"]) == {56.0}
    assert set(profiles["max_heart_rate_bpm"]) == {178.0}
    roster = study.roster.filter(pl.col("participant_id") == "P15").row(0, named=True)
    assert (roster["birth_year"], roster["resting_hr"], roster["max_hr"]) == (None, None, None)
