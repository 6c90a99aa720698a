"""The participant table and its flags, on the hand-computed fixture study."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from config import open_study
from config.study import AlertsSection
from dashboard import participant_table, queries
from tests.dashboard.conftest import (
    AS_OF,
    EXPECTED,
    EXPECTED_ORDER,
    ROSTER_CSV,
    daily_totals_table,
    minutes_table,
    write_warehouse,
)


def _table(
    study_dir: Path, as_of: datetime = AS_OF, alerts: AlertsSection | None = None, clamp: bool = False
) -> pl.DataFrame:
    study = open_study(study_dir)
    with queries.open_warehouse(queries.warehouse_path(study_dir)) as con:
        roster = queries.roster(con, study.roster)
        last = queries.last_data(con, roster)
        return participant_table.build(
            roster,
            last,
            queries.weekly(con),
            queries.recent_daily_wear(con, last),
            queries.scores(con),
            alerts or study.config.alerts,
            as_of,
            clamp_to_data=clamp,
        )


def test_one_row_per_roster_participant_stalest_first(fixture_study: Path) -> None:
    table = _table(fixture_study)
    assert table.columns == list(participant_table.TABLE_COLUMNS)
    assert table["participant_id"].to_list() == EXPECTED_ORDER


@pytest.mark.parametrize("participant_id", sorted(EXPECTED))
def test_row_matches_hand_computed_values(fixture_study: Path, participant_id: str) -> None:
    row = _table(fixture_study).filter(pl.col("participant_id") == participant_id).row(0, named=True)
    assert {k: row[k] for k in EXPECTED[participant_id]} == EXPECTED[participant_id]


def test_scores_are_carried_from_the_model_table(fixture_study: Path) -> None:
    table = _table(fixture_study).filter(pl.col("participant_id").is_in(["P01", "P04", "P05"])).sort("participant_id")
    assert table.select("current_streak", "weeks_met", "weeks_sufficient").rows() == [
        (4, 4, 4),
        (0, 1, 4),
        (None, None, None),
    ]


def test_thresholds_come_from_the_alert_settings(fixture_study: Path) -> None:
    # Stricter settings: 7 days without data, 4 weeks running, 700 wear minutes a day.
    strict = AlertsSection(no_data_days=7, below_weeks_running=4, low_wear_minutes_per_day=700)
    flags = dict(_table(fixture_study, alerts=strict).select("participant_id", "flags").iter_rows())
    assert flags["P02"] == ""  # 6 days < 7 (its wear is exactly 700: not below)
    assert flags["P04"] == "low wear"  # run of 3 < 4; wear 650 < 700
    assert flags["P01"] == "low wear"  # 686 < 700
    assert flags["P08"] == "low wear"  # 600 < 700


def test_no_data_counts_days_in_the_participants_own_zone(fixture_study: Path) -> None:
    # 2024-03-08 04:30 UTC is still 03-07 in New York: P02 has been silent 5 days there.
    early = datetime(2024, 3, 8, 4, 30, tzinfo=UTC)
    row = _table(fixture_study, as_of=early).filter(pl.col("participant_id") == "P02").row(0, named=True)
    assert (row["days_since_data"], row["flags"]) == (5, "no data for 5 days")


def test_no_data_flag_stops_after_the_roster_end_date() -> None:
    roster = pl.DataFrame(
        {
            "participant_id": ["A", "B"],
            "timezone": ["UTC", "UTC"],
            "start_date": [None, None],
            "end_date": [date(2024, 3, 1), None],
        },
        schema=queries.ROSTER_COLUMNS,
    )
    last = pl.DataFrame(
        {
            "participant_id": ["A", "B"],
            "last_local": [datetime(2024, 2, 28, 23, 59)] * 2,
            "last_day_complete": [True, True],
            "first_day": [date(2024, 2, 1)] * 2,
        },
        schema=queries.LAST_DATA_COLUMNS,
    )
    empty = pl.DataFrame(schema=queries.WEEKLY_COLUMNS)
    wear = pl.DataFrame(schema={"participant_id": pl.String(), "local_date": pl.Date(), "wear_minutes": pl.Int64()})
    table = participant_table.build(
        roster, last, empty, wear, pl.DataFrame(schema=queries.SCORE_COLUMNS), AlertsSection(), AS_OF
    )
    assert dict(table.select("participant_id", "flags").iter_rows()) == {
        "A": "low wear",  # finished on 03-01: no longer chased for data, but its last week had no wear
        "B": "no data for 9 days; low wear",
    }


def test_filter_and_csv_round_trip(fixture_study: Path) -> None:
    table = _table(fixture_study)
    flagged = participant_table.filter_table(table, flag_kinds=["no data"])
    assert flagged["participant_id"].to_list() == ["P05", "P02", "P06"]
    assert participant_table.filter_table(table, id_contains="p0")["participant_id"].len() == 8
    assert participant_table.filter_table(table, id_contains="p03")["participant_id"].to_list() == ["P03"]
    back = pl.read_csv(participant_table.to_csv(table), schema=table.schema)
    assert back.equals(table)


def test_reference_day_is_the_latest_local_day_of_data(fixture_study: Path) -> None:
    study = open_study(fixture_study)
    with queries.open_warehouse(queries.warehouse_path(fixture_study)) as con:
        roster = queries.roster(con, study.roster)
        last = queries.last_data(con, roster)
        shortcut = queries.latest_day(con, roster)
    assert participant_table.reference_day(last) == shortcut == date(2024, 3, 7)


def test_today_is_at_most_the_latest_data_when_clamped(fixture_study: Path) -> None:
    # Months after the study: clamped, "today" is 03-07 (the latest data), so P02 is 5 days behind
    # and P06 (last data 03-05) only 2 days: under the 3-day threshold.
    later = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)
    table = _table(fixture_study, as_of=later, clamp=True)
    rows = {r["participant_id"]: (r["days_since_data"], r["flags"]) for r in table.iter_rows(named=True)}
    assert rows["P02"] == (5, "no data for 5 days")
    assert rows["P06"] == (2, "")
    assert rows["P01"] == (0, "")
    unclamped = _table(fixture_study, as_of=later).filter(pl.col("participant_id") == "P01").row(0, named=True)
    assert unclamped["flags"] == "no data for 178 days"  # 2024-03-07 to 2024-09-01


def test_last_data_falls_back_to_the_minutes_without_hourly_wear(tmp_path: Path) -> None:
    # An older warehouse without hourly_wear: last data to the minute, in the roster zone.
    path = write_warehouse(
        tmp_path / "warehouse.duckdb", {"minutes": minutes_table(), "daily_totals": daily_totals_table()}
    )
    roster = pl.read_csv(io.StringIO(ROSTER_CSV), schema_overrides={"start_date": pl.Date})
    with queries.open_warehouse(path) as con:
        last = queries.last_data(con, roster)
    got = dict(last.select("participant_id", pl.col("last_local").dt.strftime("%Y-%m-%d %H:%M")).iter_rows())
    assert got == {
        "P01": "2024-03-07 21:59",  # 20:59 UTC in Oslo (CET)
        "P02": "2024-03-02 23:59",  # 04:59 UTC on 03-03 in New York (EST)
        "P03": "2024-03-07 13:00",
        "P04": "2024-03-07 10:00",  # London is on GMT
        "P06": "2024-03-05 23:59",  # last worn daily total; 03-06 and 03-07 are marked unworn
        "P07": "2024-03-07 23:59",
        "P08": "2024-03-07 19:00",
    }
