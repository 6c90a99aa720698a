"""Impossible records are not counted (issue 15 item 2): duplicates once, impossible samples and dates left out.

Each case is a real-shaped file with literal expected minutes, through the
real ingest pipeline and the weekly derive:

* a Takeout CSV whose rows are written twice counts each minute's steps once
  (doubled steps would turn slow walking into cadence-moderate minutes);
* heart-rate samples outside 20-220 bpm are left out before a minute is
  averaged and counted in the file's notes with the first examples;
* a FIT file with a valid CRC dated 2126 (or 1998) is held with its reason,
  never lands, and neither moves the cohort's "this week" nor flags another
  participant "no data for N days".
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from config import Study
from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor
from pipeline.demo.fit_files import write_monitoring_days
from pipeline.jobs import derive
from pipeline.summary import attention_table, current_week
from tests.fitbit.helpers import worn_truth

CSV_DIR = ("Takeout", "Fitbit", "Physical Activity_GoogleData")
JSON_DIR = ("Takeout", "Fitbit", "Global Export Data")


def _study(root: Path, zones: dict[str, str]) -> Study:
    init_study(root)
    roster = pl.DataFrame(
        {
            "participant_id": list(zones),
            "timezone": list(zones.values()),
            "fitabase_id": [None] * len(zones),
        }
    )
    write_roster(roster, root / "roster.csv")
    return open_study(root)


def _notes(study: Study, name: str) -> dict[str, object]:
    lake = Ingestor(study).lake
    row = lake.manifest().filter(pl.col("path").str.ends_with(name))
    assert row.height == 1, name
    return json.loads(row["notes"][0] or "{}")  # type: ignore[no-any-return]


def _steps_lines() -> list[str]:
    """Monday 2 March 2026 (UTC): 30 minutes at 110 steps/min (cadence-moderate), 60 at 60 (not)."""
    brisk = [f"2026-03-02T09:{m:02d}:00Z,110" for m in range(30)]
    slow = [f"2026-03-02T10:{m:02d}:00Z,60" for m in range(60)]
    return brisk + slow


def test_a_takeout_csv_with_every_row_written_twice_counts_each_minute_once(
    tmp_path: Path,
) -> None:
    study = _study(tmp_path / "study", {"P01": "UTC"})
    folder = tmp_path.joinpath("export", *CSV_DIR)
    folder.mkdir(parents=True)
    lines = _steps_lines()
    # the whole body twice, as a careless merge of two downloads writes it
    (folder / "steps_2026-03-01.csv").write_text("timestamp,steps\n" + "\n".join(lines * 2) + "\n")
    (outcome,) = Ingestor(study).ingest("P01", [tmp_path / "export"]).outcomes
    assert (outcome.status, outcome.rows) == ("ok", {"minutes": 90})

    minutes = Ingestor(study).lake.scan("minutes").collect().sort("minute_utc")
    assert minutes["steps"].to_list() == [110] * 30 + [60] * 60
    notes = _notes(study, "steps_2026-03-01.csv")
    assert notes["duplicate_records_dropped"] == 90
    assert notes["duplicate_records_dropped_examples"][0] == (
        "row 91: timestamp='2026-03-02T09:00:00Z', steps='110'"
    )
    weekly = derive(study).weekly.filter(pl.col("participant_id") == "P01")
    assert weekly.select("week_start", "mvpa_minutes").rows() == [(date(2026, 3, 2), 30)]


def test_a_takeout_steps_json_with_repeated_records_sums_each_record_once(tmp_path: Path) -> None:
    study = _study(tmp_path / "study", {"P01": "UTC"})
    folder = tmp_path.joinpath("export", *JSON_DIR)
    folder.mkdir(parents=True)
    records = [{"dateTime": f"03/02/26 09:{m:02d}:00", "value": "60"} for m in range(20)]
    repeated = records + records[:10]  # the first ten written again at the end
    (folder / "steps-2026-03-02.json").write_text(json.dumps(repeated, indent=2))
    (outcome,) = Ingestor(study).ingest("P01", [tmp_path / "export"]).outcomes
    assert (outcome.status, outcome.rows) == ("ok", {"minutes": 20})
    minutes = Ingestor(study).lake.scan("minutes").collect()
    assert minutes["steps"].to_list() == [60] * 20
    notes = _notes(study, "steps-2026-03-02.json")
    assert notes["duplicate_records_dropped"] == 10
    assert notes["duplicate_records_dropped_examples"][0] == (
        "record 21: dateTime='03/02/26 09:00:00', value=60"
    )


def test_impossible_heart_rate_samples_are_left_out_and_counted_with_examples(
    tmp_path: Path,
) -> None:
    study = _study(tmp_path / "study", {"P01": "UTC"})
    csv_folder = tmp_path.joinpath("export", *CSV_DIR)
    csv_folder.mkdir(parents=True)
    # each minute: samples alternating 0 and 300 bpm around one real 75 bpm sample
    rows = []
    for m in range(10):
        rows += [
            f"2026-03-02T09:{m:02d}:05Z,0.0",
            f"2026-03-02T09:{m:02d}:20Z,75.0",
            f"2026-03-02T09:{m:02d}:35Z,300.0",
        ]
    (csv_folder / "heart_rate_2026-03-02.csv").write_text(
        "timestamp,beats per minute\n" + "\n".join(rows) + "\n"
    )
    json_folder = tmp_path.joinpath("export", *JSON_DIR)
    json_folder.mkdir(parents=True)
    samples = []
    for m in range(10):
        for s, bpm in ((5, 0), (20, 80), (35, 300)):
            samples.append(
                {"dateTime": f"03/03/26 09:{m:02d}:{s:02d}", "value": {"bpm": bpm, "confidence": 2}}
            )
    (json_folder / "heart_rate-2026-03-03.json").write_text(json.dumps(samples))
    outcomes = Ingestor(study).ingest("P01", [tmp_path / "export"]).outcomes
    assert {o.status for o in outcomes} == {"ok"}
    minutes = Ingestor(study).lake.scan("minutes").collect().sort("minute_utc")
    assert minutes["heart_rate_bpm"].to_list() == [75.0] * 10 + [80.0] * 10

    csv_notes = _notes(study, "heart_rate_2026-03-02.csv")
    assert csv_notes["samples_implausible_dropped"] == 20
    assert csv_notes["samples_implausible_dropped_examples"][:2] == [
        "row 1: timestamp='2026-03-02T09:00:05Z', beats per minute='0.0'",
        "row 3: timestamp='2026-03-02T09:00:35Z', beats per minute='300.0'",
    ]
    json_notes = _notes(study, "heart_rate-2026-03-03.json")
    assert json_notes["samples_implausible_dropped"] == 20
    assert json_notes["samples_implausible_dropped_examples"][:2] == [
        "dateTime='03/03/26 09:00:05', bpm=0",
        "dateTime='03/03/26 09:00:35', bpm=300",
    ]


def test_impossible_heart_rate_in_a_fit_monitoring_file_is_counted(tmp_path: Path) -> None:
    study = _study(tmp_path / "study", {"P01": "UTC"})
    truth = worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(9, 10))
    truth = truth.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit(250.0, pl.Float32))
        .otherwise(pl.col("heart_rate_bpm"))
        .alias("heart_rate_bpm")
    )
    (path,) = write_monitoring_days(truth, tmp_path / "fit", device_serial=3_900_000_001)
    (outcome,) = Ingestor(study).ingest("P01", [path]).outcomes
    assert outcome.status == "ok"
    notes = _notes(study, path.name)
    assert notes["samples_implausible_dropped"] == 3
    assert notes["samples_implausible_dropped_examples"][0] == (
        "monitoring at 2026-03-02T09:00:00Z: heart_rate=250"
    )
    minutes = Ingestor(study).lake.scan("minutes").collect().sort("minute_utc")
    assert minutes["heart_rate_bpm"].head(3).to_list() == [None, None, None]
    assert minutes.height == 60


@pytest.fixture()
def cohort(tmp_path: Path) -> tuple[Study, dict[str, list[Path]]]:
    """P01 wears a watch in the week of 2 March 2026; P02's watch says 2126, P03's says 1998."""
    study = _study(tmp_path / "study", {"P01": "UTC", "P02": "UTC", "P03": "UTC"})
    files = {
        "P01": write_monitoring_days(
            worn_truth(datetime(2026, 3, 2), 3, "UTC", hours=(8, 20)),
            tmp_path / "P01",
            device_serial=3_900_000_001,
        ),
        "P02": write_monitoring_days(
            worn_truth(datetime(2126, 1, 5), 2, "UTC", hours=(8, 20)),
            tmp_path / "P02",
            device_serial=3_900_000_002,
        ),
        "P03": write_monitoring_days(
            worn_truth(datetime(1998, 9, 1), 1, "UTC", hours=(8, 20)),
            tmp_path / "P03",
            device_serial=3_900_000_003,
        ),
    }
    return study, files


def test_fit_files_dated_2126_and_1998_are_held_and_never_define_this_week(
    cohort: tuple[Study, dict[str, list[Path]]],
) -> None:
    study, files = cohort
    clock = datetime(2026, 3, 5, 12, tzinfo=UTC)
    ingestor = Ingestor(study, clock=lambda: clock)
    outcomes = {
        o.path: o for pid, paths in files.items() for o in ingestor.ingest(pid, paths).outcomes
    }
    future = [outcomes[str(p)] for p in files["P02"]]
    past = [outcomes[str(p)] for p in files["P03"]]
    assert {o.status for o in outcomes.values() if o.participant_id == "P01"} == {"ok"}
    assert [o.status for o in future + past] == ["quarantined"] * 3
    assert "after the run's clock plus a day (2026-03-06T12:00Z)" in (future[0].reason or "")
    assert "minutes 2126-01-05T08:00:00Z" in (future[0].reason or "")
    assert "before fit_monitoring devices existed (2008-01-01)" in (past[0].reason or "")
    assert (
        _notes(study, files["P02"][0].name)["times_implausible_dropped"] == 720 + 1
    )  # minutes and the day total
    assert (study.paths.store / "quarantine").exists()

    minutes = ingestor.lake.scan("minutes").collect()
    assert minutes["participant_id"].unique().to_list() == ["P01"]
    assert minutes["minute_utc"].max() < datetime(2026, 3, 5, tzinfo=UTC)
    weekly = derive(study).weekly
    assert weekly["week_start"].unique().to_list() == [date(2026, 3, 2)]
    assert current_week(weekly) == date(2026, 3, 2)
    flags = dict(attention_table(study, as_of=date(2026, 3, 5)).iter_rows())
    assert "P01" not in flags
    assert not any("no data for" in reason for reason in flags.values()), flags


def test_rows_after_the_runs_clock_plus_a_day_are_dropped_and_counted(tmp_path: Path) -> None:
    study = _study(tmp_path / "study", {"P01": "UTC"})
    (path,) = write_monitoring_days(
        worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(8, 20)),
        tmp_path / "fit",
        device_serial=3_900_000_001,
    )
    # worn 08:00-20:00 on 2 March; a run whose clock says 1 March 13:59:30 cannot see the afternoon
    clock = datetime(2026, 3, 1, 13, 59, 30, tzinfo=UTC)
    (outcome,) = Ingestor(study, clock=lambda: clock).ingest("P01", [path]).outcomes
    assert (outcome.status, outcome.rows) == ("ok", {"minutes": 360, "daily_totals": 1})
    notes = _notes(study, path.name)
    assert notes["times_implausible_dropped"] == 360
    assert notes["times_implausible_dropped_examples"][0] == (
        "minutes 2026-03-02T14:00:00Z: after the run's clock plus a day (2026-03-02T13:59Z)"
    )


def test_negative_steps_are_left_out_and_counted_in_takeout_json_and_csv(tmp_path: Path) -> None:
    study = _study(tmp_path / "study", {"P01": "UTC"})
    json_folder = tmp_path.joinpath("export", *JSON_DIR)
    json_folder.mkdir(parents=True)
    records = [{"dateTime": f"03/02/26 09:{m:02d}:00", "value": "80"} for m in range(5)]
    records[2]["value"] = "-400"
    (json_folder / "steps-2026-03-02.json").write_text(json.dumps(records))
    csv_folder = tmp_path.joinpath("export", *CSV_DIR)
    csv_folder.mkdir(parents=True)
    (csv_folder / "steps_2026-03-01.csv").write_text(
        "timestamp,steps\n2026-03-03T09:00:00Z,90\n2026-03-03T09:01:00Z,-7\n2026-03-03T09:02:00Z,90\n"
    )
    outcomes = Ingestor(study).ingest("P01", [tmp_path / "export"]).outcomes
    assert sorted((o.path.rsplit("/", 1)[-1], o.status, o.rows["minutes"]) for o in outcomes) == [
        ("steps-2026-03-02.json", "ok", 4),
        ("steps_2026-03-01.csv", "ok", 2),
    ]
    steps = Ingestor(study).lake.scan("minutes").collect()["steps"]
    assert sorted(steps.to_list()) == [80, 80, 80, 80, 90, 90]
    assert _notes(study, "steps-2026-03-02.json")["samples_implausible_dropped_examples"] == [
        "dateTime='03/02/26 09:02:00', steps=-400"
    ]
    assert _notes(study, "steps_2026-03-01.csv")["samples_implausible_dropped_examples"] == [
        "row 2: timestamp='2026-03-03T09:01:00Z', steps='-7'"
    ]


def test_a_future_week_already_in_a_lake_does_not_become_this_week() -> None:
    weekly = pl.DataFrame(
        {"week_start": [date(2026, 3, 2), date(2026, 3, 9), date(2126, 1, 5)]},
        schema={"week_start": pl.Date},
    )
    assert current_week(weekly, today=date(2026, 3, 12)) == date(2026, 3, 9)
    assert current_week(weekly.head(0), today=date(2026, 3, 12)) is None
