"""Takeout CSV family: round trip, Active Zone Minutes credits, foreign headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from ingest.fitbit import looks_like_fitbit_export, read_fitbit_export
from pipeline.demo.fitbit_files import CSV_DIR, write_takeout_csv
from tests.fitbit.helpers import ctx, members_of_folder, table, worn_truth, zip_folder

TZ = "America/New_York"


def _export(tmp_path: Path) -> tuple[pl.DataFrame, Path]:
    truth = worn_truth(datetime(2026, 3, 6), 4, TZ, hours=(6, 23))  # crosses the 8 March DST change
    return truth, write_takeout_csv(truth, tmp_path / "export", TZ)


def test_csv_family_round_trips_steps_heart_rate_and_intensity(tmp_path: Path) -> None:
    truth, root = _export(tmp_path)
    members = members_of_folder(root)
    assert looks_like_fitbit_export([m.path for m in members])
    results = read_fitbit_export(members, ctx(TZ))
    assert {r.status for r in results.values()} == {"ok"}
    steps = table(results, "minutes", "fitbit_csv_steps").select(
        "minute_utc", pl.col("steps").alias("s")
    )
    hr = table(results, "minutes", "fitbit_csv_heart_rate").select(
        "minute_utc", pl.col("heart_rate_bpm").alias("h"), "utc_offset_minutes"
    )
    active = table(results, "minutes", "fitbit_csv_active_minutes").select(
        "minute_utc", pl.col("intensity").alias("i")
    )
    got = (
        truth.join(steps, on="minute_utc", how="left")
        .join(hr, on="minute_utc", how="left", suffix="_got")
        .join(active, on="minute_utc", how="left")
        .with_columns(pl.col("i").fill_null("sedentary"))
    )
    assert (got["s"] == got["steps"]).all()
    assert (got["h"] == got["heart_rate_bpm"]).all()
    assert (got["i"] == got["intensity"]).all()
    assert (got["utc_offset_minutes_got"] == got["utc_offset_minutes"]).all()
    assert active.height == truth.filter(pl.col("intensity") != "sedentary").height


def test_active_zone_minutes_count_each_clock_minute_once(tmp_path: Path) -> None:
    truth, root = _export(tmp_path)
    results = read_fitbit_export(members_of_folder(root), ctx(TZ))
    azm_results = [r for r in results.values() if r.kind == "fitbit_csv_active_zone_minutes"]
    azm = table(results, "minutes", "fitbit_csv_active_zone_minutes")
    moderate = truth.filter(pl.col("intensity") == "moderate").height
    vigorous = truth.filter(pl.col("intensity") == "vigorous").height
    assert sum(r.notes["azm_credits"] for r in azm_results) == moderate + 2 * vigorous
    assert (
        azm.height == sum(r.notes["azm_clock_minutes"] for r in azm_results) == moderate + vigorous
    )
    assert azm.filter(pl.col("intensity") == "vigorous").height == vigorous
    assert azm["minute_utc"].is_unique().all()


def test_azm_minute_listed_in_two_zones_counts_once(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*CSV_DIR)
    folder.mkdir(parents=True)
    (folder / "active_zone_minutes_2024-09-01.csv").write_text(
        "timestamp,heart rate zone,total minutes\n"
        "2024-09-01T11:40:00Z,cardio,2\n"
        "2024-09-01T11:40:00Z,fat_burn,1\n"
        "2024-09-01T11:41:00Z,peak,2\n"
        "2024-09-01T11:42:00Z,fat_burn,1\n"
    )
    (result,) = read_fitbit_export(members_of_folder(tmp_path), ctx(None)).values()
    minutes = pl.from_arrow(result.tables["minutes"])
    assert minutes["intensity"].to_list() == ["vigorous", "vigorous", "moderate"]
    assert result.notes["azm_credits"] == 6
    assert result.notes["azm_clock_minutes"] == 3


def test_csv_with_foreign_header_is_quarantined_while_the_rest_lands(tmp_path: Path) -> None:
    truth, root = _export(tmp_path)
    folder = root.joinpath(*CSV_DIR)
    victim = sorted(folder.glob("steps_*.csv"))[0]
    victim.write_text("date,calories burned\n2026-03-06,2100\n")
    archive = zip_folder(root, tmp_path / "takeout.zip")
    from ingest.archive import open_bundle

    with open_bundle(archive) as bundle:
        results = read_fitbit_export(bundle.members, ctx(TZ))
    bad = next(p for p in results if p.endswith(victim.name))
    assert results[bad].status == "quarantined"
    assert victim.name in (results[bad].reason or "") and "date,calories burned" in (
        results[bad].reason or ""
    )
    others = [r for p, r in results.items() if p != bad]
    assert others and {r.status for r in others} == {"ok"}
    assert table(results, "minutes", "fitbit_csv_heart_rate").height == truth.height


def test_activity_level_keeps_the_highest_level_of_a_minute(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*CSV_DIR)
    folder.mkdir(parents=True)
    (folder / "activity_level_2025-01-01.csv").write_text(
        "timestamp,level,data source\n"
        "2025-01-01T10:00:00Z,SEDENTARY,WATCH\n"
        "2025-01-01T10:01:00Z,LIGHTLY_ACTIVE,WATCH\n"
        "2025-01-01T10:01:30Z,VERY_ACTIVE,WATCH\n"
        "2025-01-01T10:02:00Z,MODERATELY_ACTIVE,WATCH\n"
        "not a time,VERY_ACTIVE,WATCH\n"
    )
    (result,) = read_fitbit_export(members_of_folder(tmp_path), ctx("Europe/Oslo")).values()
    assert result.status == "ok" and result.notes["records_dropped"] == 1
    assert result.notes["records_dropped_examples"] == ["row 5: timestamp='not a time'"]
    minutes = pl.from_arrow(result.tables["minutes"])
    assert minutes["intensity"].to_list() == ["sedentary", "vigorous", "moderate"]
    assert minutes["utc_offset_minutes"].to_list() == [60, 60, 60]
