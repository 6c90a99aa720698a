"""Every Fitabase file of the shared corpus ingests; minute labels agree with daily figures.

The corpus (``../shared/corpus/fitabase``) holds pieces of the Furberg et al.
2016 dataset from several public repositories, including an Excel-mangled copy.
Minute intensities come from the Bellabeat copy (wide, Excel-mangled) and the
daily figures from the GDA-Capstone copy of the same export period.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from ingest.contract import Member
from ingest.fitbit import read_fitabase_export
from ingest.fitbit.bouting import compare_with_daily, daily_mvpa_from_minutes
from tests.fitbit.helpers import CORPUS, ctx, members_of_folder

FITABASE = CORPUS / "fitabase"
pytestmark = pytest.mark.skipif(
    not FITABASE.is_dir(), reason=f"shared corpus not found at {FITABASE}"
)

MINUTES = "Bellabeat-Data-Analysis-Case-Study/minuteIntensitiesWide_merged.csv"
DAILY = "GDA-Capstone/Fitabase Data 4.12.16-5.12.16/dailyIntensities_merged.csv"


def _member(rel: str) -> Member:
    path = FITABASE / rel
    return Member(rel, path.stat().st_size, path.read_bytes)


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in FITABASE.iterdir() if p.is_dir()) if FITABASE.is_dir() else []
)
def test_every_corpus_file_ingests(folder: str) -> None:
    members = members_of_folder(FITABASE / folder)
    results = read_fitabase_export(members, ctx(None, participant_from_id=True))
    assert set(results) == {m.path for m in members}  # every *_merged.csv is recognised
    for path, result in results.items():
        assert result.status in {"ok", "skipped"}, (path, result.reason)
        if result.status == "ok":
            rows = sum(t.num_rows for t in result.tables.values())
            assert rows > 0, path


def test_minute_labels_agree_with_daily_intensities() -> None:
    minutes = read_fitabase_export([_member(MINUTES)], ctx(None, participant_from_id=True))[MINUTES]
    daily = read_fitabase_export([_member(DAILY)], ctx(None, participant_from_id=True))[DAILY]
    assert minutes.notes["days_am_pm_rebuilt_from_order"] > 500  # the Excel copy lost its PM labels
    labels = pl.from_arrow(minutes.tables["minutes"]).select(
        "participant_id",
        pl.col("minute_utc").dt.replace_time_zone(None).alias("local_minute"),
        "intensity",
    )
    comparison = compare_with_daily(
        daily_mvpa_from_minutes(labels), pl.from_arrow(daily.tables["daily_totals"])
    )
    agree = comparison.filter(pl.col("daily_mvpa") == pl.col("minute_mvpa"))
    share = agree.height / comparison.height
    print(
        f"\nparticipant-days compared: {comparison.height}, agreeing: {agree.height} ({share:.1%})"
    )
    assert comparison.height > 850
    assert share > 0.98
    differing = comparison.filter(pl.col("daily_mvpa") != pl.col("minute_mvpa"))
    # most differences sit on 12 May 2016, the day the daily export was taken (a partial day)
    assert (
        differing.filter(pl.col("local_date") == date(2016, 5, 12)).height >= differing.height - 2
    )
    # the plain minute sum explains the daily figure; the 10-minute-bout sum does not
    assert (
        comparison.filter(pl.col("daily_mvpa") == pl.col("minute_mvpa_bouted")).height
        / comparison.height
        < 0.6
    )
