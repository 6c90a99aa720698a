"""Takeout / legacy JSON family: round trip, clock detection, DST, non-wear, damage."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest.archive import open_bundle
from ingest.fitbit import looks_like_fitbit_export, read_fitbit_export
from pipeline.demo.fitbit_files import JSON_DIR, write_takeout_json
from tests.fitbit.helpers import ctx, members_of_folder, table, worn_truth, zip_folder


def _minutes_by_kind(results: dict, kind: str) -> pl.DataFrame:
    return table(results, "minutes", kind)


def _assert_round_trip(truth: pl.DataFrame, results: dict) -> None:
    hr = _minutes_by_kind(results, "fitbit_json_heart_rate").select(
        "minute_utc", "heart_rate_bpm", "utc_offset_minutes"
    )
    steps = _minutes_by_kind(results, "fitbit_json_steps").select("minute_utc", "steps")
    got = truth.join(hr, on="minute_utc", how="left", suffix="_got").join(
        steps, on="minute_utc", how="left", suffix="_got"
    )
    assert got["heart_rate_bpm_got"].null_count() == 0
    assert (got["heart_rate_bpm_got"] == got["heart_rate_bpm"]).all()
    assert (got["steps_got"] == got["steps"]).all()
    assert (got["utc_offset_minutes_got"] == got["utc_offset_minutes"]).all()
    # heart rate exists only for worn minutes; steps cover whole local days (zeros when not worn)
    assert hr.height == truth.height
    assert (
        steps.filter(~pl.col("minute_utc").is_in(truth["minute_utc"].implode()))["steps"].sum() == 0
    )


def test_utc_plus_10_participant_with_utc_stamps_round_trips(tmp_path: Path) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 5, "Australia/Brisbane", hours=(6, 22))
    root = write_takeout_json(truth, tmp_path / "export", "Australia/Brisbane")
    members = members_of_folder(root)
    assert looks_like_fitbit_export([m.path for m in members])
    results = read_fitbit_export(members, ctx("Australia/Brisbane"))
    assert {r.status for r in results.values()} == {"ok"}
    hr_notes = next(r.notes for r in results.values() if r.kind == "fitbit_json_heart_rate")
    assert hr_notes["clock"] == "utc"
    # 5 heart-rate files and 1 steps file, each starting before its named local midnight (in UTC)
    assert hr_notes["clock_files_checked"] == hr_notes["clock_files_outside_named_day"] == 6
    assert hr_notes["days_contradicting_timezone"] == []
    _assert_round_trip(truth, results)


def test_offset_inferred_from_file_boundaries_without_roster_timezone(tmp_path: Path) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 3, "Australia/Brisbane")  # worn around the clock
    root = write_takeout_json(truth, tmp_path / "export", "Australia/Brisbane")
    results = read_fitbit_export(members_of_folder(root), ctx(None))
    hr_notes = next(r.notes for r in results.values() if r.kind == "fitbit_json_heart_rate")
    assert hr_notes["clock"] == "utc"
    assert hr_notes["utc_offsets_seen_minutes"] == [600]
    _assert_round_trip(truth, results)


def test_dst_change_keeps_minutes_and_offsets(tmp_path: Path) -> None:
    # US spring-forward on Sunday 8 March 2026: the local day is 23 hours long
    truth = worn_truth(datetime(2026, 3, 6), 5, "America/New_York", hours=(0, 24))
    root = write_takeout_json(truth, tmp_path / "export", "America/New_York")
    results = read_fitbit_export(members_of_folder(root), ctx("America/New_York"))
    _assert_round_trip(truth, results)
    offsets = (
        _minutes_by_kind(results, "fitbit_json_heart_rate")["utc_offset_minutes"]
        .unique()
        .sort()
        .to_list()
    )
    assert offsets == [-300, -240]
    # also without a roster zone: offsets come from each day's file boundaries
    inferred = read_fitbit_export(members_of_folder(root), ctx(None))
    _assert_round_trip(truth, inferred)


def test_local_clock_stamps_are_detected(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*JSON_DIR)
    folder.mkdir(parents=True)
    records = ",".join(
        f'{{"dateTime": "03/03/26 {h:02d}:{m:02d}:{s:02d}", "value": {{"bpm": {70 + h}, "confidence": 2}}}}'
        for h in (0, 9, 23)
        for m in (0, 59)
        for s in (0, 30)
    )
    (folder / "heart_rate-2026-03-03.json").write_text(f"[{records}]")
    results = read_fitbit_export(members_of_folder(tmp_path), ctx("Europe/Oslo"))
    (result,) = results.values()
    assert result.notes["clock"] == "local"
    minutes = pl.from_arrow(result.tables["minutes"])
    first = minutes.row(0, named=True)
    assert first["minute_utc"] == datetime(
        2026, 3, 2, 23, 0, tzinfo=first["minute_utc"].tzinfo
    )  # 00:00 local at UTC+1
    assert first["utc_offset_minutes"] == 60
    assert first["heart_rate_bpm"] == 70.0


def test_non_wear_day_is_not_a_day_of_zero_activity(tmp_path: Path) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 4, "Europe/Oslo", hours=(7, 21), skip_days=(2,))
    root = write_takeout_json(truth, tmp_path / "export", "Europe/Oslo")
    results = read_fitbit_export(members_of_folder(root), ctx("Europe/Oslo"))
    daily = table(results, "daily_totals")
    sedentary = daily.filter(pl.col("sedentary_minutes").is_not_null()).sort("local_date")
    assert sedentary.filter(~pl.col("worn"))["local_date"].to_list() == [date(2026, 3, 4)]
    assert sedentary.filter(~pl.col("worn"))["sedentary_minutes"].to_list() == [1440]
    # every daily row of that day, whichever series it came from, says not worn
    assert daily.filter(pl.col("local_date") == date(2026, 3, 4))["worn"].to_list() == [False] * 4
    moderate = daily.filter(pl.col("moderate_minutes").is_not_null()).sort("local_date")
    expected = (
        truth.with_columns(
            pl.col("minute_utc").dt.convert_time_zone("Europe/Oslo").dt.date().alias("d")
        )
        .group_by("d")
        .agg((pl.col("intensity") == "moderate").sum().alias("m"))
        .sort("d")
    )
    got = moderate.filter(pl.col("worn")).select("local_date", "moderate_minutes")
    assert got["moderate_minutes"].to_list() == expected["m"].to_list()
    assert set(daily["bouted"].to_list()) == {False}


def test_truncated_json_keeps_the_minutes_before_the_cut_while_the_rest_lands(
    tmp_path: Path,
) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 3, "Europe/Oslo", hours=(7, 21))
    root = write_takeout_json(truth, tmp_path / "export", "Europe/Oslo")
    victim = root.joinpath(*JSON_DIR) / "heart_rate-2026-03-03.json"
    victim.write_bytes(victim.read_bytes()[:5000])
    results = read_fitbit_export(members_of_folder(root), ctx("Europe/Oslo"))
    bad_path = "Takeout/Fitbit/Global Export Data/heart_rate-2026-03-03.json"
    assert results[bad_path].status == "partial"
    assert bad_path in (results[bad_path].reason or "") and "ends mid-record" in (
        results[bad_path].reason or ""
    )
    kept = pl.from_arrow(results[bad_path].tables["minutes"])
    day = truth.filter(
        pl.col("minute_utc").dt.convert_time_zone("Europe/Oslo").dt.date() == date(2026, 3, 3)
    ).sort("minute_utc")
    assert 0 < kept.height < day.height
    # exactly the whole minutes before the cut, with their true mean bpm
    assert kept["minute_utc"].to_list() == day["minute_utc"].head(kept.height).to_list()
    assert kept["heart_rate_bpm"].to_list() == day["heart_rate_bpm"].head(kept.height).to_list()
    others = {p: r for p, r in results.items() if p != bad_path}
    assert {r.status for r in others.values()} == {"ok"}
    hr = _minutes_by_kind(others, "fitbit_json_heart_rate")
    assert hr.height == truth.height - day.height


def test_zip_with_escaping_member_still_lands_the_rest(tmp_path: Path) -> None:
    import zipfile

    truth = worn_truth(datetime(2026, 3, 2), 2, "Europe/Oslo", hours=(7, 21))
    root = write_takeout_json(truth, tmp_path / "export", "Europe/Oslo")
    archive = zip_folder(root, tmp_path / "takeout.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../../etc/steps-2026-03-02.json", b"[]")
    with open_bundle(archive) as bundle:
        assert [r.path for r in bundle.refusals] == ["../../etc/steps-2026-03-02.json"]
        results = read_fitbit_export(bundle.members, ctx("Europe/Oslo"))
        assert {r.status for r in results.values()} == {"ok"}
        _assert_round_trip(truth, results)


@pytest.mark.parametrize(
    "paths, expected",
    [
        (["Takeout/Fitbit/Global Export Data/steps-2020-01-01.json"], True),
        (["MyFitbitData/Jane/user-site-export/heart_rate-2016-05-01.json"], True),
        (["x/Takeout/Google Health/Physical Activity_GoogleData/steps_2024-09-01.csv"], True),
        (["Physical Activity/steps-2019-01-01.json"], True),
        (["random/steps-2020-01-01.json"], True),
        (["steps-2020-01-01.json"], True),
        (["Takeout/Fitbit/Global Export Data/profile.json"], False),
    ],
)
def test_export_is_found_by_file_names_whatever_the_folders(
    paths: list[str], expected: bool
) -> None:
    assert looks_like_fitbit_export(paths) is expected


EXERCISE = """[{
  "logId" : 1001,
  "activityName" : "Walk",
  "activityLevel" : [{"minutes" : 2, "name" : "sedentary"}, {"minutes" : 5, "name" : "lightly"},
                     {"minutes" : 12, "name" : "fairly"}, {"minutes" : 8, "name" : "very"}],
  "averageHeartRate" : 118,
  "duration" : 1620000,
  "activeDuration" : 1500000,
  "steps" : 3500,
  "startTime" : "03/02/26 21:30:00"
},{
  "logId" : 1002,
  "activityName" : "Run",
  "activityLevel" : [{"minutes" : 0, "name" : "sedentary"}, {"minutes" : 1, "name" : "lightly"},
                     {"minutes" : 4, "name" : "fairly"}, {"minutes" : 25, "name" : "very"}],
  "averageHeartRate" : 151,
  "duration" : 1800000,
  "steps" : 5200,
  "startTime" : "03/03/26 20:00:00",
  "originalStartTime" : "2026-03-04T06:00:00.000+10:00"
}]"""


def test_exercise_logs_become_sessions(tmp_path: Path) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 3, "Australia/Brisbane", hours=(6, 22))
    root = write_takeout_json(truth, tmp_path / "export", "Australia/Brisbane")
    (root.joinpath(*JSON_DIR) / "exercise-0.json").write_text(EXERCISE)
    results = read_fitbit_export(members_of_folder(root), ctx("Australia/Brisbane"))
    result = results["Takeout/Fitbit/Global Export Data/exercise-0.json"]
    assert (result.kind, result.status) == ("fitbit_json_exercise", "ok")
    sessions = pl.from_arrow(result.tables["sessions"]).sort("start_utc")
    starts = [s.replace(tzinfo=None) for s in sessions["start_utc"].to_list()]
    # the first log is on the participant's (UTC) clock; the second carries its own offset
    assert starts == [datetime(2026, 3, 2, 21, 30), datetime(2026, 3, 3, 20, 0)]
    ends = [s.replace(tzinfo=None) for s in sessions["end_utc"].to_list()]
    assert ends == [datetime(2026, 3, 2, 21, 57), datetime(2026, 3, 3, 20, 30)]
    assert sessions["moderate_minutes"].to_list() == [12, 4]
    assert sessions["vigorous_minutes"].to_list() == [8, 25]
    assert sessions["timer_seconds"].to_list() == [1500.0, 1800.0]
    assert sessions["sport"].to_list() == ["Walk", "Run"]
    assert sessions["session_key"].to_list() == ["1001", "1002"]
    assert sessions["utc_offset_minutes"].to_list() == [600, 600]


def test_resting_heart_rate_fills_daily_totals(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*JSON_DIR)
    folder.mkdir(parents=True)
    (folder / "resting_heart_rate-2015-05-18.json").write_text(
        '[{"dateTime" : "05/18/15 00:00:00", "value" : {"date" : "05/18/15", "value" : 63.5, "error" : 7.1}},'
        '{"dateTime" : "05/19/15 00:00:00", "value" : {"date" : "05/19/15", "value" : 0.0, "error" : 0.0}},'
        '{"dateTime" : "05/20/15 00:00:00", "value" : {"date" : "05/20/15", "value" : 61.0, "error" : 6.0}}]'
    )
    (result,) = read_fitbit_export(members_of_folder(tmp_path), ctx("Australia/Brisbane")).values()
    assert (result.kind, result.status) == ("fitbit_json_resting_heart_rate", "ok")
    daily = pl.from_arrow(result.tables["daily_totals"]).sort("local_date")
    assert daily["local_date"].to_list() == [
        date(2015, 5, 18),
        date(2015, 5, 20),
    ]  # 0.0 means not computed
    assert daily["resting_heart_rate_bpm"].to_list() == [63.5, 61.0]
    assert daily["utc_offset_minutes"].to_list() == [600, 600]


def test_impossible_heart_rate_samples_are_dropped_before_the_minute_mean(tmp_path: Path) -> None:
    # 09:00 alternates 0 and 300 bpm (would average to a vigorous 150); 09:01 is 72 bpm with one 300 spike.
    folder = tmp_path.joinpath(*JSON_DIR)
    folder.mkdir(parents=True)
    samples = [(0, sec, 0 if sec % 10 == 0 else 300) for sec in range(0, 60, 5)]
    samples += [(1, sec, 72) for sec in range(0, 60, 5)] + [(1, 7, 300)]
    records = ",".join(
        f'{{"dateTime": "03/03/26 09:{m:02d}:{sec:02d}", "value": {{"bpm": {bpm}, "confidence": 2}}}}'
        for m, sec, bpm in samples
    )
    (folder / "heart_rate-2026-03-03.json").write_text(f"[{records}]")
    results = read_fitbit_export(members_of_folder(tmp_path), ctx("UTC"))
    (result,) = results.values()
    minutes = pl.from_arrow(result.tables["minutes"])
    assert minutes["heart_rate_bpm"].to_list() == [72.0]
    assert minutes["minute_utc"].dt.minute().to_list() == [1]


def test_time_in_heart_rate_zones_become_daily_totals_of_their_own_source(
    tmp_path: Path,
) -> None:
    """Legacy ``time_in_heart_rate_zones-*.json``: fat burn is moderate, cardio + peak vigorous,
    below zone 1 the rest of the measured minutes; a zone a record leaves out counts 0; a day
    with no minute in any zone is not worn. Keyed by the local date in ``dateTime``."""
    folder = tmp_path.joinpath(*JSON_DIR)
    folder.mkdir(parents=True)
    (folder / "time_in_heart_rate_zones-2019-11-04.json").write_text(
        "[{\n"
        '  "dateTime" : "11/04/19 00:00:00",\n'
        '  "value" : {\n'
        '    "valuesInZones" : {\n'
        '      "IN_DEFAULT_ZONE_2" : 14.0,\n'
        '      "BELOW_DEFAULT_ZONE_1" : 1198.0,\n'
        '      "IN_DEFAULT_ZONE_3" : 3.0,\n'
        '      "IN_DEFAULT_ZONE_1" : 41.0\n'
        "    }\n"
        "  }\n"
        "},{\n"
        '  "dateTime" : "11/05/19 00:00:00",\n'
        '  "value" : {\n'
        '    "valuesInZones" : {\n'
        '      "IN_DEFAULT_ZONE_2" : 0.0,\n'
        '      "BELOW_DEFAULT_ZONE_1" : 902.0,\n'
        '      "IN_DEFAULT_ZONE_1" : 7.0\n'
        "    }\n"
        "  }\n"
        "},{\n"
        '  "dateTime" : "11/06/19 00:00:00",\n'
        '  "value" : {\n'
        '    "valuesInZones" : {\n'
        '      "IN_DEFAULT_ZONE_2" : 0.0,\n'
        '      "BELOW_DEFAULT_ZONE_1" : 0.0,\n'
        '      "IN_DEFAULT_ZONE_3" : 0.0,\n'
        '      "IN_DEFAULT_ZONE_1" : 0.0\n'
        "    }\n"
        "  }\n"
        "}]"
    )
    (result,) = read_fitbit_export(members_of_folder(tmp_path), ctx("America/New_York")).values()
    assert (result.kind, result.status) == ("fitbit_json_time_in_heart_rate_zones", "ok")
    daily = pl.from_arrow(result.tables["daily_totals"]).sort("local_date")
    assert set(daily["source"]) == {"fitbit_hr_zones"}
    assert daily["local_date"].to_list() == [
        date(2019, 11, 4),
        date(2019, 11, 5),
        date(2019, 11, 6),
    ]
    assert daily["moderate_minutes"].to_list() == [41, 7, 0]
    assert daily["vigorous_minutes"].to_list() == [17, 0, 0]
    assert daily["sedentary_minutes"].to_list() == [1198, 902, 0]
    assert daily["worn"].to_list() == [True, True, False]
    assert daily["utc_offset_minutes"].to_list() == [-300, -300, -300]


def test_heart_rate_zone_totals_fill_only_days_no_other_source_covers() -> None:
    """Ranked last by default: on a day Fitbit's own activity-level totals cover, they win; a day
    only the zones cover is filled from the zones."""
    from config.study import StudyConfig
    from features.daily import best_daily_totals
    from tests.features.weekly_builders import daily_totals

    config = StudyConfig()
    assert config.intensity.source_precedence[-1] == "fitbit_hr_zones"
    rows = daily_totals(
        [
            {
                "participant_id": "p",
                "local_date": date(2019, 11, 4),
                "source": "fitbit_takeout",
                "moderate_minutes": 25,
                "vigorous_minutes": 5,
                "sedentary_minutes": 800,
                "worn": True,
            },
            {
                "participant_id": "p",
                "local_date": date(2019, 11, 4),
                "source": "fitbit_hr_zones",
                "moderate_minutes": 41,
                "vigorous_minutes": 17,
                "sedentary_minutes": 1198,
                "worn": True,
            },
            {
                "participant_id": "p",
                "local_date": date(2019, 11, 5),
                "source": "fitbit_hr_zones",
                "moderate_minutes": 7,
                "vigorous_minutes": 0,
                "sedentary_minutes": 902,
                "worn": True,
            },
        ]
    )
    best = best_daily_totals(rows.lazy(), config).collect().sort("local_date")
    assert best.select("dt_moderate", "dt_vigorous", "dt_wear").rows() == [
        (25, 5, 830),
        (7, 0, 909),
    ]
