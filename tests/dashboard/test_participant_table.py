"""The participant table and its flags, on the hand-computed fixture study."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from config import open_study
from config.study import AlertsSection
from models import participant_table
from store import queries
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
    study_dir: Path, as_of: datetime = AS_OF, alerts: AlertsSection | None = None
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
            queries.last_heart_rate(con, roster),
            alerts or study.config.alerts,
            as_of,
        )


def test_one_row_per_roster_participant_stalest_first(fixture_study: Path) -> None:
    table = _table(fixture_study)
    assert table.columns == list(participant_table.TABLE_COLUMNS)
    assert table["participant_id"].to_list() == EXPECTED_ORDER


@pytest.mark.parametrize("participant_id", sorted(EXPECTED))
def test_row_matches_hand_computed_values(fixture_study: Path, participant_id: str) -> None:
    row = (
        _table(fixture_study).filter(pl.col("participant_id") == participant_id).row(0, named=True)
    )
    assert {k: row[k] for k in EXPECTED[participant_id]} == EXPECTED[participant_id]


def test_scores_are_carried_from_the_model_table(fixture_study: Path) -> None:
    table = (
        _table(fixture_study)
        .filter(pl.col("participant_id").is_in(["P01", "P04", "P05"]))
        .sort("participant_id")
    )
    assert table.select("current_streak", "weeks_met", "weeks_sufficient").rows() == [
        (4, 4, 4),
        (0, 1, 4),
        (None, None, None),
    ]


def test_thresholds_come_from_the_alert_settings(fixture_study: Path) -> None:
    # Stricter settings: 7 days without data, 4 weeks running, 700 wear minutes a day (the pre-hours key,
    # still read), heart rate missing 6+ days.
    strict = AlertsSection.model_validate(
        {
            "no_data_days": 7,
            "below_weeks_running": 4,
            "low_wear_minutes_per_day": 700,
            "no_heart_rate_days": 6,
        }
    )
    assert strict.low_wear_hours_per_day == pytest.approx(700 / 60)
    flags = dict(_table(fixture_study, alerts=strict).select("participant_id", "flags").iter_rows())
    assert flags["P02"] == ""  # 6 days < 7 (its wear is exactly 700: not below)
    assert flags["P04"] == "low wear: 10.8 h/day over 7 days"  # run of 3 < 4; wear 650 < 700
    assert flags["P01"] == "low wear: 11.4 h/day over 7 days"  # 686 < 700
    assert flags["P08"] == "low wear: 10.0 h/day over 7 days"  # 600 < 700
    assert flags["P09"] == ""  # 5 days without heart rate < 6; wear exactly 700
    # A 2-day window: P08's 03-05 and 03-06 (700 + 500) / 2 = 600 < 630; P01's two days of 800 are not.
    shorter = AlertsSection(low_wear_days=2, low_wear_hours_per_day=10.5)
    flags = dict(
        _table(fixture_study, alerts=shorter).select("participant_id", "flags").iter_rows()
    )
    assert flags["P08"] == "low wear: 10.0 h/day over 2 days"
    assert flags["P01"] == ""


def test_no_data_counts_days_in_the_participants_own_zone(fixture_study: Path) -> None:
    # 2024-03-08 04:30 UTC is still 03-07 in New York: P02 has been silent 5 days there.
    early = datetime(2024, 3, 8, 4, 30, tzinfo=UTC)
    row = (
        _table(fixture_study, as_of=early)
        .filter(pl.col("participant_id") == "P02")
        .row(0, named=True)
    )
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
    wear = pl.DataFrame(
        schema={"participant_id": pl.String(), "local_date": pl.Date(), "wear_minutes": pl.Int64()}
    )
    heart = pl.DataFrame(
        {"participant_id": ["A", "B"], "last_heart_rate_day": [date(2024, 2, 28)] * 2}
    )
    table = participant_table.build(
        roster,
        last,
        empty,
        wear,
        pl.DataFrame(schema=queries.SCORE_COLUMNS),
        heart,
        AlertsSection(),
        AS_OF,
    )
    assert dict(table.select("participant_id", "flags").iter_rows()) == {
        # finished on 03-01: no longer chased for data, but its last week had no wear
        "A": "low wear: 0.0 h/day over 7 days",
        "B": "no data for 9 days; low wear: 0.0 h/day over 7 days",
    }


def test_filter_and_csv_round_trip(fixture_study: Path) -> None:
    table = _table(fixture_study)
    flagged = participant_table.filter_table(table, flag_kinds=["no data"])
    assert flagged["participant_id"].to_list() == ["P05", "P02", "P06"]
    assert participant_table.filter_table(table, id_contains="p0")["participant_id"].len() == 9
    assert participant_table.filter_table(table, id_contains="p03")["participant_id"].to_list() == [
        "P03"
    ]
    back = pl.read_csv(participant_table.to_csv(table), schema=table.schema)
    assert back.equals(table)


def test_reference_day_is_the_latest_local_day_of_data(fixture_study: Path) -> None:
    study = open_study(fixture_study)
    with queries.open_warehouse(queries.warehouse_path(fixture_study)) as con:
        roster = queries.roster(con, study.roster)
        last = queries.last_data(con, roster)
        shortcut = queries.latest_day(con, roster)
    assert participant_table.reference_day(last) == shortcut == date(2024, 3, 7)


def test_no_data_counts_from_the_participants_own_last_data_not_another_participants_1717_days() -> (
    None
):
    # The reported case: A's data ends 1,717 days before B's. Today is 30 days after B's last data.
    # "no data" counts from each participant's own last data to today: A 1,747 days, B 30, and A's
    # figure is the same whether or not B is in the study.
    a_last, b_last = date(2019, 1, 1), date(2019, 1, 1) + timedelta(days=1717)
    today = datetime.combine(b_last + timedelta(days=30), datetime.min.time(), tzinfo=UTC).replace(
        hour=12
    )

    def flags(ids: list[str]) -> dict[str, str]:
        lasts = {"A": a_last, "B": b_last}
        roster = pl.DataFrame(
            {
                "participant_id": ids,
                "timezone": ["UTC"] * len(ids),
                "start_date": [None] * len(ids),
                "end_date": [None] * len(ids),
            },
            schema=queries.ROSTER_COLUMNS,
        )
        last = pl.DataFrame(
            {
                "participant_id": ids,
                "last_local": [
                    datetime.combine(lasts[i], datetime.min.time()).replace(hour=23, minute=59)
                    for i in ids
                ],
                "last_day_complete": [True] * len(ids),
                "first_day": [lasts[i] - timedelta(days=30) for i in ids],
            },
            schema=queries.LAST_DATA_COLUMNS,
        )
        wear = pl.DataFrame(
            [(i, lasts[i] - timedelta(days=k), 900) for i in ids for k in range(10)],
            schema={
                "participant_id": pl.String(),
                "local_date": pl.Date(),
                "wear_minutes": pl.Int64(),
            },
            orient="row",
        )
        heart = pl.DataFrame(
            {"participant_id": ids, "last_heart_rate_day": [lasts[i] for i in ids]}
        )
        table = participant_table.build(
            roster,
            last,
            pl.DataFrame(schema=queries.WEEKLY_COLUMNS),
            wear,
            pl.DataFrame(schema=queries.SCORE_COLUMNS),
            heart,
            AlertsSection(),
            today,
        )
        return dict(table.select("participant_id", "flags").iter_rows())

    assert flags(["A", "B"]) == {"A": "no data for 1747 days", "B": "no data for 30 days"}
    assert flags(["A"]) == {"A": "no data for 1747 days"}


def test_last_data_falls_back_to_the_minutes_without_hourly_wear(tmp_path: Path) -> None:
    # An older warehouse without hourly_wear: last data to the minute, in the roster zone.
    path = write_warehouse(
        tmp_path / "warehouse.duckdb",
        {"minutes": minutes_table(), "daily_totals": daily_totals_table()},
    )
    roster = pl.read_csv(io.StringIO(ROSTER_CSV), schema_overrides={"start_date": pl.Date})
    with queries.open_warehouse(path) as con:
        last = queries.last_data(con, roster)
    got = dict(
        last.select(
            "participant_id", pl.col("last_local").dt.strftime("%Y-%m-%d %H:%M")
        ).iter_rows()
    )
    assert got == {
        "P01": "2024-03-07 21:59",  # 20:59 UTC in Oslo (CET)
        "P02": "2024-03-02 23:59",  # 04:59 UTC on 03-03 in New York (EST)
        "P03": "2024-03-07 13:00",
        "P04": "2024-03-07 10:00",  # London is on GMT
        "P06": "2024-03-05 23:59",  # last worn daily total; 03-06 and 03-07 are marked unworn
        "P07": "2024-03-07 23:59",
        "P08": "2024-03-07 19:00",
        "P09": "2024-03-07 12:00",
    }
