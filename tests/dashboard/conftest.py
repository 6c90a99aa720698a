"""A tiny hand-computed study for the dashboard tests.

The study's weeks start on Mondays 2024-02-05 (W1) ... 2024-03-04 (W5); the
latest data anywhere is on Thursday 2024-03-07, so W5 is "this week" and W4
"last complete week"; "today" (``AS_OF``) is 2024-03-08 12:00 UTC. Each
participant is built to trip (or just miss) one flag with the alert settings
written to study.toml (no_data_days = 3, below_weeks_running = 2,
low_wear_hours_per_day = 10, low_wear_days = 7, no_heart_rate_days = 3):

====  ================  =========================================================
P01   Europe/Oslo       healthy; 03-03 has no daily row (counts as 0 wear)
P02   America/New_York  stopped syncing: last minute 03-02 23:59 local
P03   Europe/Oslo       low wear: 300 min/day; weeks below but insufficient last
P04   Europe/London     below the hour W2-W4 (W5 partial, not counted)
P05   Europe/Oslo       on the roster, no data at all
P06   Europe/Oslo       daily totals only, last worn day 03-05 (exactly 3 days ago)
P07   Europe/Oslo       below W2 and W4 with W3 missing: the run is only 1
P08   Europe/Oslo       started 03-05: wear averaged over 2 days, not 7
P09   Europe/Oslo       heart rate stopped: last heart rate 03-02, data up to 03-07
====  ================  =========================================================

The expected table lives in ``EXPECTED`` and is worked out by hand in the
comments next to each participant's rows. "Last data" is the end of the last
local hour with wear (``daily`` and ``hourly_wear``), e.g. a last minute at
13:00 shows as 13:59.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from config.conform import conform
from config.schema import DAILY_TOTALS, FILES, MINUTES

AS_OF = datetime(2024, 3, 8, 12, 0, tzinfo=UTC)
W1, W2, W3, W4, W5 = (date(2024, 2, 5) + timedelta(weeks=i) for i in range(5))

STUDY_TOML = """
[study]
name = "dashboard fixture"
timezone = "Europe/Oslo"

[alerts]
no_data_days = 3
below_weeks_running = 2
low_wear_hours_per_day = 10
low_wear_days = 7
no_heart_rate_days = 3

[scoring]
threshold_minutes_per_week = 60
"""

ROSTER_CSV = """participant_id,timezone,start_date
P01,Europe/Oslo,
P02,America/New_York,
P03,Europe/Oslo,
P04,Europe/London,
P05,Europe/Oslo,
P06,Europe/Oslo,
P07,Europe/Oslo,
P08,Europe/Oslo,2024-03-05
P09,Europe/Oslo,
"""

EXPECTED: dict[str, dict[str, object]] = {
    # days_since: 03-08 (Oslo, 13:00) - 03-07 = 1; wear window 02-29..03-06 (03-07 stops at 21:59):
    # six days of 800 and the missing 03-03 -> 4800 / 7 = 685.7 -> 686.
    "P01": dict(
        flags="",
        last_data="2024-03-07 21:59 Europe/Oslo",
        days_since_data=1,
        this_week_minutes=45,
        last_week_minutes=120,
        last_week_status="met",
        recent_wear_minutes_per_day=686,
    ),
    # last minute 03-03 04:59 UTC = 03-02 23:59 EST (a complete day); today in New York is 03-08 07:00.
    "P02": dict(
        flags="no data for 6 days",
        last_data="2024-03-02 23:59 America/New_York",
        days_since_data=6,
        this_week_minutes=None,
        last_week_minutes=61,
        last_week_status="met",
        recent_wear_minutes_per_day=700,
    ),
    # latest complete week for last complete day 03-06 is W4, insufficient: no below run.
    "P03": dict(
        flags="low wear: 5.0 h/day over 7 days",
        last_data="2024-03-07 13:59 Europe/Oslo",
        days_since_data=1,
        this_week_minutes=10,
        last_week_minutes=30,
        last_week_status="insufficient",
        recent_wear_minutes_per_day=300,
    ),
    # W2, W3, W4 below; W5 (below so far) is not complete on 03-06.
    "P04": dict(
        flags="below the hour 3 weeks running",
        last_data="2024-03-07 10:59 Europe/London",
        days_since_data=1,
        this_week_minutes=5,
        last_week_minutes=10,
        last_week_status="below",
        recent_wear_minutes_per_day=650,
    ),
    "P05": dict(
        flags="no data yet",
        last_data=None,
        days_since_data=None,
        this_week_minutes=None,
        last_week_minutes=None,
        last_week_status=None,
        recent_wear_minutes_per_day=None,
    ),
    # worn daily totals up to 03-05 (complete; 03-06/07 are unworn days); W4 below, W5 partial -> run of 1.
    "P06": dict(
        flags="no data for 3 days",
        last_data="2024-03-05 23:59 Europe/Oslo",
        days_since_data=3,
        this_week_minutes=20,
        last_week_minutes=50,
        last_week_status="below",
        recent_wear_minutes_per_day=720,
    ),
    # last minute 23:59 local on 03-07 (complete day, window 03-01..03-07); W3 missing ends the run at 1.
    "P07": dict(
        flags="",
        last_data="2024-03-07 23:59 Europe/Oslo",
        days_since_data=1,
        this_week_minutes=15,
        last_week_minutes=40,
        last_week_status="below",
        recent_wear_minutes_per_day=700,
    ),
    # started 03-05: window 03-05..03-06 -> (700 + 500) / 2 = 600, not below 600.
    "P08": dict(
        flags="",
        last_data="2024-03-07 19:59 Europe/Oslo",
        days_since_data=1,
        this_week_minutes=70,
        last_week_minutes=None,
        last_week_status=None,
        recent_wear_minutes_per_day=600,
    ),
    # heart rate last on 03-02 (minute rows on 03-07 carry none): 5 days without; wear window 02-29..03-06
    # counts from the first worn day 03-01: 6 x 700 / 6.
    "P09": dict(
        flags="no heart rate for 5 days",
        last_data="2024-03-07 12:59 Europe/Oslo",
        days_since_data=1,
        this_week_minutes=65,
        last_week_minutes=80,
        last_week_status="met",
        recent_wear_minutes_per_day=700,
    ),
}
EXPECTED_ORDER = ["P05", "P02", "P06", "P01", "P03", "P04", "P07", "P08", "P09"]
"""Stalest first: never synced, then days since data descending, then id."""


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def minutes_table() -> pa.Table:
    """First and last minute of each participant with minute data (enough for last data)."""
    rows = [
        ("P01", "fit_monitoring", "Garmin vivosmart 4", "2024-02-05 08:00"),
        ("P01", "fit_activity", "Garmin Forerunner 55", "2024-03-02 16:30"),
        ("P01", "fit_monitoring", "Garmin vivosmart 4", "2024-03-07 20:59"),
        ("P02", "fit_monitoring", "Garmin vivosmart 4", "2024-02-05 13:00"),
        ("P02", "fit_monitoring", "Garmin vivosmart 4", "2024-03-03 04:59"),
        ("P03", "fit_monitoring", "Garmin vivosmart 4", "2024-02-12 08:00"),
        ("P03", "fit_monitoring", "Garmin vivosmart 4", "2024-03-07 12:00"),
        ("P04", "fit_monitoring", "Garmin vivosmart 4", "2024-02-05 09:00"),
        ("P04", "fit_monitoring", "Garmin vivosmart 4", "2024-03-07 10:00"),
        ("P07", "fit_monitoring", "Garmin vivosmart 4", "2024-02-12 08:00"),
        ("P07", "fit_monitoring", "Garmin vivosmart 4", "2024-03-07 22:59"),
        ("P08", "fit_monitoring", "Garmin vivosmart 4", "2024-03-05 08:00"),
        ("P08", "fit_monitoring", "Garmin vivosmart 4", "2024-03-07 18:00"),
        ("P09", "fit_monitoring", "Garmin vivosmart 4", "2024-02-26 08:00"),
        ("P09", "fit_monitoring", "Garmin vivosmart 4", "2024-03-02 10:00"),
        ("P09", "fit_monitoring", "Garmin vivosmart 4", "2024-03-07 11:00"),
    ]
    pid, source, device, ts = zip(*rows, strict=True)
    no_heart_rate = {("P09", "2024-03-07 11:00")}
    table = pa.table(
        {
            "participant_id": list(pid),
            "source": list(source),
            "device": list(device),
            "minute_utc": pa.array([_utc(t) for t in ts], pa.timestamp("us", tz="UTC")),
            "file_id": ["f" * 64] * len(rows),
            "heart_rate_bpm": pa.array(
                [None if (p, t) in no_heart_rate else 72.0 for p, t in zip(pid, ts, strict=True)],
                pa.float32(),
            ),
        }
    )
    return conform(table, MINUTES)


def daily_totals_table() -> pa.Table:
    """P06's device days: worn up to 03-05, then two days the device reports as not worn."""
    days = _days(date(2024, 2, 19), date(2024, 3, 7))
    table = pa.table(
        {
            "participant_id": ["P06"] * len(days),
            "source": ["fitbit_takeout"] * len(days),
            "device": ["Fitbit Charge 5"] * len(days),
            "local_date": pa.array(days, pa.date32()),
            "worn": [d <= date(2024, 3, 5) for d in days],
            "resting_heart_rate_bpm": pa.array(
                [58.0 if d <= date(2024, 3, 5) else None for d in days], pa.float32()
            ),
            "bouted": [False] * len(days),
            "file_id": ["e" * 64] * len(days),
        }
    )
    return conform(table, DAILY_TOTALS)


def _daily() -> pl.DataFrame:
    wear: list[tuple[str, date, int]] = []
    wear += [
        ("P01", d, 800) for d in _days(date(2024, 2, 29), date(2024, 3, 7)) if d != date(2024, 3, 3)
    ]
    wear += [("P02", d, 700) for d in _days(date(2024, 2, 25), date(2024, 3, 2))]
    wear += [("P03", d, 300) for d in _days(date(2024, 2, 26), date(2024, 3, 7))]
    wear += [("P04", d, 650) for d in _days(date(2024, 2, 29), date(2024, 3, 7))]
    wear += [("P06", d, 720) for d in _days(date(2024, 2, 19), date(2024, 3, 5))]
    wear += [("P07", d, 700) for d in _days(date(2024, 3, 1), date(2024, 3, 7))]
    wear += [
        ("P08", date(2024, 3, 5), 700),
        ("P08", date(2024, 3, 6), 500),
        ("P08", date(2024, 3, 7), 100),
    ]
    wear += [("P09", d, 700) for d in _days(date(2024, 3, 1), date(2024, 3, 7))]
    frame = pl.DataFrame(
        wear, schema=["participant_id", "local_date", "wear_minutes"], orient="row"
    )
    return frame.with_columns(
        moderate_minutes=pl.lit(10),
        vigorous_minutes=pl.lit(5),
        mvpa_minutes=pl.lit(15),
        valid=pl.col("wear_minutes") >= 600,
        from_daily_totals=pl.col("participant_id") == "P06",
    )


def _weekly() -> pl.DataFrame:
    rows = [
        ("P01", W1, 90, "met"),
        ("P01", W2, 95, "met"),
        ("P01", W3, 100, "met"),
        ("P01", W4, 120, "met"),
        ("P01", W5, 45, "below"),
        ("P02", W1, 70, "met"),
        ("P02", W2, 80, "met"),
        ("P02", W3, 65, "met"),
        ("P02", W4, 61, "met"),
        ("P03", W2, 20, "below"),
        ("P03", W3, 25, "below"),
        ("P03", W4, 30, "insufficient"),
        ("P03", W5, 10, "insufficient"),
        ("P04", W1, 75, "met"),
        ("P04", W2, 30, "below"),
        ("P04", W3, 20, "below"),
        ("P04", W4, 10, "below"),
        ("P04", W5, 5, "below"),
        ("P06", W3, 200, "met"),
        ("P06", W4, 50, "below"),
        ("P06", W5, 20, "below"),
        ("P07", W2, 30, "below"),
        ("P07", W4, 40, "below"),
        ("P07", W5, 15, "below"),
        ("P08", W5, 70, "met"),
        ("P09", W4, 80, "met"),
        ("P09", W5, 65, "met"),
    ]
    frame = pl.DataFrame(
        rows, schema=["participant_id", "week_start", "mvpa_minutes", "status"], orient="row"
    )
    return frame.with_columns(
        moderate_minutes=(pl.col("mvpa_minutes") * 2 // 3).cast(pl.Int32),
        vigorous_minutes=(pl.col("mvpa_minutes") - pl.col("mvpa_minutes") * 2 // 3).cast(pl.Int32),
        mvpa_minutes=pl.col("mvpa_minutes").cast(pl.Int32),
        wear_minutes=pl.lit(4200, pl.Int32),
        valid_days=pl.when(pl.col("status") == "insufficient").then(2).otherwise(7).cast(pl.Int8),
        sources=pl.lit("fit_monitoring"),
        methods=pl.lit("device"),
        from_daily_totals=pl.lit(0, pl.Int8),
        config_hash=pl.lit("fixture"),
    )


def _hourly_wear() -> pl.DataFrame:
    """Local hours with minute rows, as the pipeline derives them: every fixture minute row, plus
    P01's waking hours 07-21 worn for the heat map."""
    zones = pl.read_csv(io.StringIO(ROSTER_CSV)).select("participant_id", "timezone")
    minutes = pl.from_arrow(minutes_table()).join(zones, on="participant_id")
    local = pl.concat(
        [  # one zone at a time: polars converts a whole column to one zone
            part.select(
                "participant_id",
                pl.col("minute_utc")
                .dt.convert_time_zone(zone)
                .dt.replace_time_zone(None)
                .alias("local"),
            )
            for (zone,), part in minutes.group_by("timezone")
        ]
    )
    from_minutes = local.select(
        "participant_id",
        pl.col("local").dt.date().alias("local_date"),
        pl.col("local").dt.hour().cast(pl.Int8).alias("hour"),
        pl.lit(1).alias("wear_minutes"),
    )
    days = _days(date(2024, 2, 29), date(2024, 3, 7))
    waking = pl.DataFrame(
        [("P01", d, h, 60) for d in days for h in range(7, 22)],
        schema={
            "participant_id": pl.String,
            "local_date": pl.Date,
            "hour": pl.Int8,
            "wear_minutes": pl.Int32,
        },
        orient="row",
    )
    return (
        pl.concat([from_minutes, waking], how="vertical_relaxed")
        .group_by("participant_id", "local_date", "hour")
        .agg(pl.col("wear_minutes").max())
        .sort("participant_id", "local_date", "hour")
    )


def _scores() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "participant_id": ["P01", "P02", "P03", "P04", "P06", "P07", "P08", "P09"],
            "weeks_met": [4, 4, 0, 1, 1, 0, 0, 2],
            "weeks_sufficient": [4, 4, 2, 4, 2, 2, 0, 2],
            "current_streak": [4, 4, 0, 0, 0, 0, 0, 2],
            "longest_streak": [4, 4, 0, 1, 1, 0, 0, 2],
            "benefit_fraction": [0.9, 0.9, 0.3, 0.4, 0.5, 0.4, 0.0, 0.95],
        }
    )


def _cohort() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "week_start": [W1, W2, W3, W4, W5],
            "n_sufficient": [3, 5, 5, 6, 5],
            "n_met": [3, 2, 3, 2, 2],
            "share_met": [1.0, 0.4, 0.6, 1 / 3, 0.4],
            "ci_low": [0.44, 0.12, 0.23, 0.10, 0.12],
            "ci_high": [1.0, 0.77, 0.88, 0.70, 0.77],
        }
    )


def _files() -> pa.Table:
    ingested = _utc("2024-03-07 02:00")
    rows = [
        ("a1", "inbox/P01/2024-03-07-monitor.fit", "P01", "fit_monitoring", 40_000, "ok", None),
        (
            "a2",
            "inbox/P01/2024-03-06-monitor.fit",
            "P01",
            "fit_monitoring",
            12_345,
            "partial",
            "truncated at byte 12000: record header past end of file",
        ),
        (
            "a3",
            "inbox/P02/notes.fit",
            "P02",
            "unknown",
            512,
            "quarantined",
            "not a FIT file: header signature is not '.FIT'",
        ),
        ("a4", "inbox/P02/readme.txt", "P02", "text", 100, "skipped", "not a data file"),
        ("a5", "inbox/P03/2024-03-07-monitor.fit", "P03", "fit_monitoring", 38_000, "ok", None),
    ]
    fid, path, pid, kind, size, status, reason = zip(*rows, strict=True)
    n = len(rows)
    table = pa.table(
        {
            "file_id": list(fid),
            "path": list(path),
            "participant_id": list(pid),
            "kind": list(kind),
            "size_bytes": pa.array(size, pa.int64()),
            "status": list(status),
            "reason": pa.array(reason, pa.string()),
            "rows_minutes": pa.array([0] * n, pa.int64()),
            "rows_daily_totals": pa.array([0] * n, pa.int64()),
            "rows_sessions": pa.array([0] * n, pa.int64()),
            "ingested_at": pa.array([ingested] * n, pa.timestamp("us", tz="UTC")),
        }
    )
    return conform(table, FILES)


def _runs() -> pa.Table:
    return pa.table(
        {
            "run_id": ["r1", "r2"],
            "flow": ["nightly", "nightly"],
            "started_at": pa.array(
                [_utc("2024-03-06 02:00"), _utc("2024-03-07 02:00")], pa.timestamp("us", tz="UTC")
            ),
            "finished_at": pa.array(
                [_utc("2024-03-06 02:03"), _utc("2024-03-07 02:04")], pa.timestamp("us", tz="UTC")
            ),
            "status": ["ok", "ok"],
            "summary_markdown": ["# old run", "**5 files seen**, 1 partial, 1 quarantined"],
            "files_seen": [3, 5],
            "files_new": [3, 5],
            "files_ok": [3, 2],
            "files_partial": [0, 1],
            "files_quarantined": [0, 1],
            "config_hash": ["fixture", "fixture"],
        }
    )


def write_warehouse(path: Path, tables: dict[str, pl.DataFrame | pa.Table]) -> Path:
    """Write each frame as a table of a DuckDB file (the layout the dashboard reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        for name, frame in tables.items():
            con.register("incoming", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
            con.unregister("incoming")
    finally:
        con.close()
    return path


def build_fixture_study(root: Path) -> Path:
    """The fixture study folder: study.toml, roster.csv and store/warehouse.duckdb."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.toml").write_text(STUDY_TOML, encoding="utf-8")
    (root / "roster.csv").write_text(ROSTER_CSV, encoding="utf-8")
    write_warehouse(
        root / "store" / "warehouse.duckdb",
        {
            "minutes": minutes_table(),
            "daily_totals": daily_totals_table(),
            "daily": _daily(),
            "weekly": _weekly(),
            "hourly_wear": _hourly_wear(),
            "participant_scores": _scores(),
            "cohort_weekly": _cohort(),
            "files": _files(),
            "runs": _runs(),
        },
    )
    return root


@pytest.fixture(scope="session")
def fixture_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_study(tmp_path_factory.mktemp("dashboard") / "study")


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo study (``pipeline.demo``) through the nightly steps without Prefect: ingest, derive, publish.

    Takes minutes: only the slow tests use it.
    """
    from tests.built_demo import build_demo_study

    demo, _ = build_demo_study(tmp_path_factory.mktemp("dashboard-demo") / "demo")
    return demo.root


# -- downloads made on the click (Streamlit's deferred download buttons) -------------------------


@dataclass
class Media:
    """The media store of the runs and the manager of the latest one (which runs deferred downloads)."""

    storage: MemoryMediaFileStorage
    managers: list[MediaFileManager] = field(default_factory=list)


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> Media:
    """One media store kept after the run, so a download button's bytes can be read back."""
    kept = Media(MemoryMediaFileStorage("/mock/media"))

    def manager(_storage: object) -> MediaFileManager:
        kept.managers.append(MediaFileManager(kept.storage))
        return kept.managers[-1]

    monkeypatch.setattr(
        "streamlit.testing.v1.app_test.MemoryMediaFileStorage", lambda _endpoint: kept.storage
    )
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", manager)
    return kept


def deferred_download(at: Any, media: Media, index: int = 0) -> tuple[str, bytes]:
    """Click-time generation of a download button's file, as the browser's click asks for it: (url, bytes)."""
    button = at.get("download_button")[index]
    assert button.proto.url == ""  # nothing generated when the page was drawn
    url = media.managers[-1].execute_deferred(button.proto.deferred_file_id)
    return url, media.storage.get_file(url.rsplit("/", 1)[-1].split(".")[0]).content
