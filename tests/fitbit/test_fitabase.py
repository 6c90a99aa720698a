"""Fitabase exports: round trip through the demo writer, Id mapping, Excel-mangled copies."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest.fitbit import looks_like_fitabase_export, read_fitabase_export
from pipeline.demo.fitbit_files import write_fitabase
from tests.fitbit.helpers import ctx, members_of_folder, table, worn_truth

TZ = "Asia/Kolkata"
IDS = {"1503960366": "P06", "2022484408": "P07"}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pl.DataFrame], Path]:
    truths = {
        "1503960366": worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(7, 22), seed=1),
        "2022484408": worn_truth(
            datetime(2026, 3, 2), 3, TZ, hours=(6, 20), skip_days=(1,), seed=2
        ),
    }
    root = write_fitabase(truths, tmp_path_factory.mktemp("fitabase"), {k: TZ for k in truths})
    return truths, root


def test_round_trip_per_participant(export: tuple[dict[str, pl.DataFrame], Path]) -> None:
    truths, root = export
    members = members_of_folder(root)
    assert looks_like_fitabase_export([m.path for m in members])
    results = read_fitabase_export(members, ctx(TZ, id_map=IDS))
    assert {r.status for r in results.values()} == {"ok"}
    cols = {
        "fitabase_minute_intensities_narrow": "intensity",
        "fitabase_minute_steps_narrow": "steps",
        "fitabase_heartrate_seconds": "heart_rate_bpm",
    }
    for fid, truth in truths.items():
        got = truth
        for kind, col in cols.items():
            part = table(results, "minutes", kind).filter(pl.col("participant_id") == IDS[fid])
            got = got.join(
                part.select("minute_utc", pl.col(col).alias(f"{col}_got")),
                on="minute_utc",
                how="left",
            )
            assert (got[f"{col}_got"] == got[col]).all(), (fid, kind)
        mets = (
            table(results, "minutes", "fitabase_minute_mets")
            .filter(pl.col("participant_id") == IDS[fid])
            .select("minute_utc", "mets", pl.col("utc_offset_minutes").alias("offset_got"))
        )
        with_mets = got.join(mets, on="minute_utc")
        assert with_mets.height == truth.height
        assert with_mets.filter(pl.col("intensity") == "vigorous")["mets"].unique().to_list() == [
            7.5
        ]
        assert (with_mets["offset_got"] == 330).all()


def test_daily_totals_wear_and_bouting_from_the_export_itself(
    export: tuple[dict[str, pl.DataFrame], Path],
) -> None:
    truths, root = export
    results = read_fitabase_export(members_of_folder(root), ctx(TZ, id_map=IDS))
    daily = table(results, "daily_totals", "fitabase_daily_intensities")
    not_worn = daily.filter(~pl.col("worn")).select("participant_id", "local_date").rows()
    assert not_worn == [("P07", date(2026, 3, 3))]
    intensities = next(r for r in results.values() if r.kind == "fitabase_daily_intensities")
    # the demo's daily figures are plain sums of its minute labels, which include short runs
    assert intensities.notes["bouted"] is False
    assert intensities.notes["share_equal_to_minute_sum"] == 1.0
    truth = truths["1503960366"].with_columns(
        pl.col("minute_utc").dt.convert_time_zone(TZ).dt.date().alias("d")
    )
    vig = (
        truth.filter(pl.col("intensity") == "vigorous")
        .group_by("d")
        .len()
        .sort("d")["len"]
        .to_list()
    )
    assert (
        daily.filter(pl.col("participant_id") == "P06")
        .sort("local_date")["vigorous_minutes"]
        .to_list()
        == vig
    )


def test_unmapped_id_is_left_out_and_named(export: tuple[dict[str, pl.DataFrame], Path]) -> None:
    _, root = export
    results = read_fitabase_export(members_of_folder(root), ctx(TZ, id_map={"1503960366": "P06"}))
    for r in results.values():
        assert r.status == "partial"
        assert "2022484408" in (r.reason or "") and "1503960366" not in (r.reason or "")
    assert set(table(results, "minutes")["participant_id"].unique().to_list()) == {"P06"}
    nobody = read_fitabase_export(members_of_folder(root), ctx(TZ, id_map={}))
    assert {r.status for r in nobody.values()} == {"quarantined"}


def _write(folder: Path, name: str, text: str) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return members_of_folder(folder)


def test_excel_copy_with_day_first_dates_and_split_time_is_read(tmp_path: Path) -> None:
    text = (
        "Id,Date,ActivityMinute,Intensity,Extra\n"
        "1503960366,12-04-2016,11:59:00 PM,0,x\n"
        "1503960366,13-04-2016,12:00:00 AM,2,x\n"
        "1503960366,13-04-2016,12:01:00 AM,3,x\n"
        "1503960366,14-04-2016,1:30:00 PM,1,x\n"
    )
    members = _write(tmp_path, "minuteIntensitiesNarrow_merged.csv", text)
    (result,) = read_fitabase_export(members, ctx(None, participant_from_id=True)).values()
    assert result.status == "ok", result.reason
    minutes = pl.from_arrow(result.tables["minutes"])
    assert [m.replace(tzinfo=None) for m in minutes["minute_utc"].to_list()] == [
        datetime(2016, 4, 12, 23, 59),
        datetime(2016, 4, 13, 0, 0),
        datetime(2016, 4, 13, 0, 1),
        datetime(2016, 4, 14, 13, 30),
    ]
    assert minutes["intensity"].to_list() == ["sedentary", "moderate", "vigorous", "light"]


def test_excel_copy_with_lost_am_pm_is_rebuilt_from_row_order(tmp_path: Path) -> None:
    hours = ["12:00:00 PM"] + [f"{h}:00:00 AM" for h in range(1, 12)]
    rows = [
        f"1503960366,13-04-2016,{h},{i}" for i, h in enumerate(hours * 2)
    ]  # 24 hours, labels as Excel left them
    members = _write(tmp_path, "minuteStepsWide_merged.csv", "")
    header = "Id,Date,ActivityHour," + ",".join(f"Steps{m:02d}" for m in range(60))
    body = "\n".join(r.rsplit(",", 1)[0] + "," + ",".join([r.rsplit(",", 1)[1]] * 60) for r in rows)
    members = _write(tmp_path, "minuteStepsWide_merged.csv", header + "\n" + body + "\n")
    (result,) = read_fitabase_export(members, ctx(None, participant_from_id=True)).values()
    assert result.status == "ok", result.reason
    assert result.notes["days_am_pm_rebuilt_from_order"] == 1
    minutes = pl.from_arrow(result.tables["minutes"])
    per_hour = (
        minutes.group_by(pl.col("minute_utc").dt.hour().alias("h"))
        .agg(pl.col("steps").first())
        .sort("h")
    )
    assert per_hour["steps"].to_list() == list(
        range(24)
    )  # hour h carries the value of the h-th row


def test_ambiguous_excel_copy_is_refused_with_header_and_first_row(tmp_path: Path) -> None:
    text = "Id,ActivityDay,SedentaryMinutes,LightlyActiveMinutes,FairlyActiveMinutes,VeryActiveMinutes\n"
    text += "".join(f"1503960366,0{d}-05-2016,1000,300,20,10\n" for d in range(1, 9))
    members = _write(tmp_path, "dailyIntensities_merged.csv", text)
    (result,) = read_fitabase_export(members, ctx(None, participant_from_id=True)).values()
    assert result.status == "quarantined"
    reason = result.reason or ""
    assert "dailyIntensities_merged.csv" in reason
    assert (
        "Id,ActivityDay,SedentaryMinutes" in reason
        and "1503960366,01-05-2016,1000,300,20,10" in reason
    )


def test_foreign_header_is_quarantined(tmp_path: Path) -> None:
    members = _write(tmp_path, "minuteStepsNarrow_merged.csv", "user,when,count\n1,2016-04-12,3\n")
    (result,) = read_fitabase_export(members, ctx(None, participant_from_id=True)).values()
    assert result.status == "quarantined"
    assert "missing columns" in (result.reason or "") and "user,when,count" in (result.reason or "")


def test_autumn_dst_fold_keeps_both_passes_of_the_repeated_hour(tmp_path: Path) -> None:
    tz = "America/New_York"  # clocks go back from 02:00 to 01:00 on Sunday 1 November 2026
    truth = worn_truth(datetime(2026, 10, 31, 22), 1, tz, seed=5)  # 22:00 Saturday to 22:00 Sunday
    root = write_fitabase({"1503960366": truth}, tmp_path, {"1503960366": tz})
    results = read_fitabase_export(members_of_folder(root), ctx(tz, participant_from_id=True))
    assert {r.status for r in results.values()} == {"ok"}
    intensity = table(results, "minutes", "fitabase_minute_intensities_narrow").select(
        "minute_utc", pl.col("intensity").alias("got"), pl.col("utc_offset_minutes").alias("offset")
    )
    hr = table(results, "minutes", "fitabase_heartrate_seconds").select(
        "minute_utc", pl.col("heart_rate_bpm").alias("bpm")
    )
    got = truth.join(intensity, on="minute_utc", how="left").join(hr, on="minute_utc", how="left")
    assert truth.height == 1440 + 60  # the fold makes these 24 wall-clock hours 25 real ones
    assert (got["got"] == got["intensity"]).all()
    assert (got["bpm"] == got["heart_rate_bpm"]).all()
    assert (got["offset"] == got["utc_offset_minutes"]).all()
    notes = next(
        r.notes for r in results.values() if r.kind == "fitabase_minute_intensities_narrow"
    )
    assert notes["days_with_broken_am_pm"] == 0


def test_header_only_file_is_read_as_empty(tmp_path: Path) -> None:
    members = _write(tmp_path, "heartrate_seconds_merged.csv", "Id,Time,Value\n")
    (result,) = read_fitabase_export(members, ctx(None, participant_from_id=True)).values()
    assert (result.status, result.tables, result.notes["rows"]) == ("ok", {}, 0)


def test_clean_month_first_dates_spanning_two_months_stay_month_first() -> None:
    from ingest.fitbit.fitabase_time import resolve_dates

    days = pl.date_range(date(2026, 3, 2), date(2026, 4, 26), "1d", eager=True)
    text = days.dt.strftime("%-m/%-d/%Y")
    ids = pl.Series(["1"] * len(days))
    resolved, notes = resolve_dates(ids, text)
    assert resolved.to_list() == days.to_list()
    assert notes["two_way_dates_read_day_first"] == 0


def test_concatenated_periods_restart_an_ids_dates() -> None:
    from ingest.fitbit.fitabase_time import resolve_dates

    text = pl.Series(
        ["4/30/2016", "05/06/2016", "05/12/2016", "3/31/2016", "04/01/2016", "04/02/2016"]
    )
    resolved, _ = resolve_dates(pl.Series(["1"] * 6), text)
    assert resolved.to_list() == [
        date(2016, 4, 30),
        date(2016, 5, 6),
        date(2016, 5, 12),
        date(2016, 3, 31),
        date(2016, 4, 1),
        date(2016, 4, 2),
    ]


def test_one_export_many_zones_places_each_participant_in_their_own(tmp_path: Path) -> None:
    zones = {"1503960366": "Asia/Kolkata", "2022484408": "America/Los_Angeles"}
    truths = {
        fid: worn_truth(datetime(2026, 3, 2), 2, tz, hours=(7, 22), seed=i)
        for i, (fid, tz) in enumerate(zones.items())
    }
    root = write_fitabase(truths, tmp_path, zones)
    base = ctx("Asia/Kolkata", id_map=IDS)
    from dataclasses import replace

    context = replace(base, zones={"P06": "Asia/Kolkata", "P07": "America/Los_Angeles"})
    results = read_fitabase_export(members_of_folder(root), context)
    steps = table(results, "minutes", "fitabase_minute_steps_narrow")
    for fid, truth in truths.items():
        got = steps.filter(pl.col("participant_id") == IDS[fid]).select(
            "minute_utc", "steps", "utc_offset_minutes"
        )
        joined = truth.join(got, on="minute_utc", how="left", suffix="_got")
        assert joined["steps_got"].null_count() == 0, fid
        assert (joined["steps_got"] == joined["steps"]).all(), fid
        assert (joined["utc_offset_minutes_got"] == joined["utc_offset_minutes"]).all(), fid
    daily = table(results, "daily_totals", "fitabase_daily_activity")
    offsets = dict(
        daily.group_by("participant_id").agg(pl.col("utc_offset_minutes").first()).rows()
    )
    assert offsets == {"P06": 330, "P07": -480}
