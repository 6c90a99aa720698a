"""Read-only queries over the study's DuckDB warehouse, returning polars frames.

This is the dashboard's only access to data: it opens ``<study>/store/
warehouse.duckdb`` read-only, per request, so the nightly run can replace the
file underneath at any time. Nothing here imports Streamlit, so every query is
testable and benchmarkable on its own.

A warehouse built before a derived table existed (or a study that has not run
yet) simply lacks that table: each query then returns an empty frame with the
columns the pages expect, instead of failing the page.

Local time is computed in DuckDB with ``timezone(zone, ts)``, one zone per row,
from the roster's zone of each participant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from config.layout import StudyPaths
from store.derived import DerivedStore
from store.lake import Lake
from store.objects import parquet_source
from store.warehouse import connect_read_only

WEEKLY_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "week_start": pl.Date(),
    "moderate_minutes": pl.Int32(),
    "vigorous_minutes": pl.Int32(),
    "mvpa_minutes": pl.Int32(),
    "wear_minutes": pl.Int32(),
    "valid_days": pl.Int8(),
    "status": pl.String(),
}

LAST_DATA_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "last_local": pl.Datetime("us"),
    "last_day_complete": pl.Boolean(),
    "first_day": pl.Date(),
}
"""First and latest data per participant, in the participant's local time.

``last_day_complete`` says whether the local day of ``last_local`` is fully
covered (the last minute is 23:59, or the data is a device daily total)."""

SCORE_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "weeks_met": pl.Int64(),
    "weeks_sufficient": pl.Int64(),
    "current_streak": pl.Int64(),
    "longest_streak": pl.Int64(),
}

COHORT_COLUMNS: dict[str, pl.DataType] = {
    "week_start": pl.Date(),
    "n_sufficient": pl.Int64(),
    "n_met": pl.Int64(),
    "share_met": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
}

_COHORT_RENAMES = {"sufficient": "n_sufficient", "met": "n_met"}

ROSTER_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "timezone": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
}


def warehouse_path(study_dir: Path) -> Path:
    """Where the nightly run leaves the warehouse of a study folder."""
    return StudyPaths(Path(study_dir)).warehouse


@contextmanager
def open_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, closed on exit (the file may be replaced between requests)."""
    con = connect_read_only(path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def open_derived(paths: StudyPaths | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection whose views are the study's derived Parquet tables.

    The derived tables carry the warehouse's table names, so every query here
    runs on them too: the pipeline evaluates the same flags before it has
    refreshed the warehouse. ``paths`` (or a study folder, for a local store)
    says where the store is; on object storage the tables are read through
    pyarrow (``store.objects``).
    """
    paths = paths if isinstance(paths, StudyPaths) else StudyPaths(Path(paths))
    con = duckdb.connect()
    try:
        derived = DerivedStore(paths.derived_location)
        for name in derived.tables():
            if derived.remote:
                frame = derived.read(name)
                rows = frame.to_arrow() if frame is not None else None  # noqa: F841
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM rows")
            else:
                con.execute(
                    f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quoted(str(derived.path(name)))})"
                )
        _lake_views(con, paths)
        yield con
    finally:
        con.close()


def _lake_views(con: duckdb.DuckDBPyConnection, paths: StudyPaths) -> None:
    """Views over the lake's committed ``minutes`` and ``daily_totals`` parts (for the heart-rate rule)."""
    if not paths.remote and not paths.lake.is_dir():
        return
    lake = Lake(paths.lake_location)
    for name in ("minutes", "daily_totals"):
        parts = lake.committed_parts(name)
        if not parts:
            continue
        retired = lake.retired_in(parts)  # rows of retired files in those parts do not count
        keep = " OR ".join(
            f"(filename = {_quoted(p)} AND file_id IN ({', '.join(_quoted(f) for f in ids)}))"
            for p, ids in retired.items()
        )
        where = f" WHERE NOT ({keep})" if keep else ""
        source = parquet_source(con, name, parts, lake.fs)
        con.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (filename) FROM {source}{where}")


def _quoted(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def table_names(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Tables and views present in the warehouse."""
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return frozenset(r[0] for r in rows)


def _frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> pl.DataFrame:
    return con.execute(sql, params or []).pl()


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """Expose a polars frame to SQL as ``name`` for the duration of a query."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)


def _empty(columns: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=columns)


def _typed(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """The expected columns in order and type; columns the table lacks come back null."""
    return frame.select(
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in columns.items()
    )


def roster(con: duckdb.DuckDBPyConnection, fallback: pl.DataFrame) -> pl.DataFrame:
    """Participants as in the roster: the warehouse copy, else the study's roster.csv."""
    if "roster" in table_names(con):
        frame = _frame(con, "SELECT * FROM roster ORDER BY participant_id")
    else:
        frame = fallback.sort("participant_id")
    return _typed(frame, ROSTER_COLUMNS)


_LAST_FROM_DERIVED = """
    WITH days AS (
        SELECT participant_id, min(local_date) AS first_day, max(local_date) AS last_day
        FROM daily WHERE wear_minutes > 0 GROUP BY 1
    ),
    hours AS (
        SELECT h.participant_id, max(h.hour) AS last_hour
        FROM hourly_wear h JOIN days d ON h.participant_id = d.participant_id AND h.local_date = d.last_day
        WHERE h.wear_minutes > 0 GROUP BY 1
    )
    SELECT d.participant_id, d.first_day,
           d.last_day + to_hours(coalesce(h.last_hour, 23)::INTEGER) + INTERVAL 59 MINUTE AS last_local
    FROM days d LEFT JOIN hours h USING (participant_id)
"""

_LAST_FROM_LAKE = """
    SELECT participant_id, min(first_day) AS first_day, max(last_local) AS last_local FROM (
        SELECT m.participant_id, timezone(z.timezone, min(m.minute_utc))::DATE AS first_day,
               timezone(z.timezone, max(m.minute_utc)) AS last_local
        FROM minutes m JOIN zones z USING (participant_id) GROUP BY m.participant_id, z.timezone
        UNION ALL
        SELECT participant_id, min(local_date), max(local_date) + INTERVAL 23 HOUR + INTERVAL 59 MINUTE
        FROM daily_totals WHERE worn IS DISTINCT FROM false GROUP BY 1
    ) GROUP BY 1
"""


def last_data(con: duckdb.DuckDBPyConnection, participants: pl.DataFrame) -> pl.DataFrame:
    """Each participant's first and latest worn data, in local time.

    Data means the device was worn: the latest local day of ``daily`` with wear
    (which includes days filled from device daily totals), and on that day the
    latest local hour of ``hourly_wear`` with wear; "last data" is the end of
    that hour (hh:59), or 23:59 for a day known only from daily totals. Both
    are derived tables placed in local time by the pipeline, so the cost grows
    with participant-days, not with the minutes lake. Device days without wear
    (e.g. the 1440 sedentary minutes Fitbit exports keep writing after a
    participant stops) are not data.

    A warehouse without those derived tables falls back to the lake: the
    latest minute row, to the minute, in the roster zone (``participants``:
    participant_id, timezone), and the latest daily total not marked unworn.
    Participants without any data are absent.
    """
    names = table_names(con)
    if {"daily", "hourly_wear"} <= names:
        frame = _frame(con, _LAST_FROM_DERIVED)
    elif {"minutes", "daily_totals"} <= names:
        with _registered(con, "zones", participants.select("participant_id", "timezone")):
            frame = _frame(con, _LAST_FROM_LAKE)
    else:
        return _empty(LAST_DATA_COLUMNS)
    return frame.with_columns(
        pl.col("last_local").cast(pl.Datetime("us")),
        (pl.col("last_local").dt.time() >= pl.time(23, 59)).alias("last_day_complete"),
    ).pipe(_typed, LAST_DATA_COLUMNS)


def latest_day(con: duckdb.DuckDBPyConnection, participants: pl.DataFrame) -> date | None:
    """The local day of the latest data anywhere in the study (the day "this week" contains).

    The same day as the latest ``last_data``, read from ``daily`` alone when it exists.
    """
    if "daily" in table_names(con):
        row = con.execute("SELECT max(local_date) FROM daily WHERE wear_minutes > 0").fetchone()
        return row[0] if row else None
    last = last_data(con, participants)["last_local"].max()
    return last.date() if isinstance(last, datetime) else None


def weekly(con: duckdb.DuckDBPyConnection, participant_id: str | None = None) -> pl.DataFrame:
    """Per-participant local weeks (all participants, or one)."""
    if "weekly" not in table_names(con):
        return _empty(WEEKLY_COLUMNS)
    cols = ", ".join(WEEKLY_COLUMNS)
    if participant_id is None:
        frame = _frame(con, f"SELECT {cols} FROM weekly")
    else:
        frame = _frame(
            con,
            f"SELECT {cols} FROM weekly WHERE participant_id = ? ORDER BY week_start",
            [participant_id],
        )
    return _typed(frame, WEEKLY_COLUMNS)


def recent_daily_wear(
    con: duckdb.DuckDBPyConnection, last: pl.DataFrame, days: int = 8
) -> pl.DataFrame:
    """Daily wear minutes of the ``days`` local days up to each participant's last data."""
    columns = {"participant_id": pl.String(), "local_date": pl.Date(), "wear_minutes": pl.Int64()}
    if "daily" not in table_names(con) or last.is_empty():
        return _empty(columns)
    last_days = last.select("participant_id", pl.col("last_local").dt.date().alias("last_day"))
    with _registered(con, "last_days", last_days):
        frame = _frame(
            con,
            """
            SELECT d.participant_id, d.local_date, d.wear_minutes
            FROM daily d JOIN last_days l USING (participant_id)
            WHERE d.local_date > l.last_day - ?::INTEGER AND d.local_date <= l.last_day
            """,
            [days],
        )
    return _typed(frame, columns)


_LAST_HEART_RATE = """
    SELECT participant_id, max(day) AS last_heart_rate_day FROM (
        SELECT k.participant_id, timezone(z.timezone, k.last_heart_rate_utc)::DATE AS day
        FROM ({last_minutes}) k JOIN zones z USING (participant_id)
        UNION ALL
        SELECT participant_id, max(local_date) FROM daily_totals
        WHERE coalesce(resting_heart_rate_bpm, min_heart_rate_bpm, max_heart_rate_bpm) IS NOT NULL GROUP BY 1
    ) GROUP BY 1
"""
"""Each participant's last heart-rate day: the local day of their last heart-rate minute, or a later
day with a resting, minimum or maximum heart rate. ``{last_minutes}``: ``participant_id,
last_heart_rate_utc``, scanned from every minute or registered from what a derive keeps."""
_LAST_MINUTES_SCANNED = """
    SELECT participant_id, max(minute_utc) AS last_heart_rate_utc FROM minutes
    WHERE heart_rate_bpm IS NOT NULL GROUP BY 1
"""


def last_heart_rate(
    con: duckdb.DuckDBPyConnection,
    participants: pl.DataFrame,
    last_minutes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Each participant's latest local day with any heart rate (a minute's, or a day's resting/min/max).

    Read from the lake tables (``minutes``, ``daily_totals``) in the roster
    zone; participants without any heart rate are absent, and so is
    everyone when the warehouse has no lake tables (the rule then cannot
    tell, and does not fire). ``last_minutes`` (``participant_id,
    last_heart_rate_utc``: ``features.utc_hours.last_heart_rate_minutes`` of
    what a derive keeps) stands in for the scan of every minute.
    """
    columns = {"participant_id": pl.String(), "last_heart_rate_day": pl.Date()}
    if not {"minutes", "daily_totals"} <= table_names(con):
        return _empty(columns)
    with _registered(con, "zones", participants.select("participant_id", "timezone")):
        if last_minutes is None:
            sql = _LAST_HEART_RATE.format(last_minutes=_LAST_MINUTES_SCANNED)
            return _typed(_frame(con, sql), columns)
        with _registered(con, "kept_heart_rate", last_minutes):
            sql = _LAST_HEART_RATE.format(last_minutes="SELECT * FROM kept_heart_rate")
            return _typed(_frame(con, sql), columns)


def has_lake_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the lake's minute and daily-total tables are readable here (the heart-rate rule needs them)."""
    return {"minutes", "daily_totals"} <= table_names(con)


NOTE_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "topic": pl.String(),
    "note": pl.String(),
}
"""The ``data_notes`` table (``pipeline.validity``): one line per heart-rate or time-zone problem."""

HR_PARAM_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "hr_params": pl.String(),
    "weeks": pl.Int64(),
    "weeks_by_heart_rate": pl.Int64(),
}


def data_notes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The heart-rate and time-zone notes ``irisin check`` prints, by participant (empty before a derive)."""
    if "data_notes" not in table_names(con):
        return _empty(NOTE_COLUMNS)
    frame = _frame(con, "SELECT * FROM data_notes ORDER BY participant_id, topic")
    return _typed(frame, NOTE_COLUMNS)


def hr_params_used(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per participant: where the heart-rate-reserve parameters of the latest week heart rate
    classified in came from (roster / device / estimated; null when heart rate classified no
    week), the weeks on record, and how many of them heart rate classified minutes in."""
    if "weekly" not in table_names(con):
        return _empty(HR_PARAM_COLUMNS)
    columns = {r[0] for r in con.execute("DESCRIBE weekly").fetchall()}
    if not {"hr_params", "share_heart_rate"} <= columns:
        return _empty(HR_PARAM_COLUMNS)
    frame = _frame(
        con,
        "SELECT participant_id, arg_max(hr_params, week_start) FILTER (WHERE share_heart_rate > 0)"
        " AS hr_params, count(*) AS weeks, "
        "count(*) FILTER (WHERE share_heart_rate > 0) AS weeks_by_heart_rate "
        "FROM weekly GROUP BY participant_id ORDER BY participant_id",
    )
    return _typed(frame, HR_PARAM_COLUMNS)


def scores(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Adherence scores per participant (``models/adherence``)."""
    if "participant_scores" not in table_names(con):
        return _empty(SCORE_COLUMNS)
    return _typed(_frame(con, "SELECT * FROM participant_scores"), SCORE_COLUMNS)


def cohort_weekly(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The cohort's weekly share meeting the threshold with its interval (``models/cohort``)."""
    if "cohort_weekly" not in table_names(con):
        return _empty(COHORT_COLUMNS)
    frame = _frame(con, "SELECT * FROM cohort_weekly ORDER BY week_start")
    # models.cohort names the counts ``sufficient`` and ``met``.
    frame = frame.rename(
        {k: v for k, v in _COHORT_RENAMES.items() if k in frame.columns and v not in frame.columns}
    )
    return _typed(frame, COHORT_COLUMNS)


def week_containing(con: duckdb.DuckDBPyConnection, day: date) -> date | None:
    """Start of the latest week in ``weekly`` that begins on or before ``day`` (the week containing it)."""
    if "weekly" not in table_names(con):
        return None
    row = con.execute("SELECT max(week_start) FROM weekly WHERE week_start <= ?", [day]).fetchone()
    return row[0] if row else None


def week_minutes(con: duckdb.DuckDBPyConnection, week_start: date) -> pl.DataFrame:
    """Every participant's minutes and status in one week (for the distribution chart)."""
    if "weekly" not in table_names(con):
        return _empty(
            {
                c: WEEKLY_COLUMNS[c]
                for c in ("participant_id", "mvpa_minutes", "wear_minutes", "status")
            }
        )
    return _frame(
        con,
        "SELECT participant_id, mvpa_minutes, wear_minutes, status FROM weekly WHERE week_start = ? ORDER BY 1",
        [week_start],
    )


def hourly_wear(
    con: duckdb.DuckDBPyConnection, participant_id: str, since: date, until: date
) -> pl.DataFrame:
    """Wear minutes per local day and hour for one participant, days in [since, until]."""
    columns = {"local_date": pl.Date(), "hour": pl.Int64(), "wear_minutes": pl.Int64()}
    if "hourly_wear" not in table_names(con):
        return _empty(columns)
    frame = _frame(
        con,
        """
        SELECT local_date, hour, wear_minutes FROM hourly_wear
        WHERE participant_id = ? AND local_date BETWEEN ? AND ? ORDER BY local_date, hour
        """,
        [participant_id, since, until],
    )
    return _typed(frame, columns)


def sources_seen(con: duckdb.DuckDBPyConnection, participant_id: str, zone: str) -> pl.DataFrame:
    """Each source and device that delivered data for one participant, first/last in local time."""
    columns = {
        "source": pl.String(),
        "device": pl.String(),
        "first_local": pl.Datetime("us"),
        "last_local": pl.Datetime("us"),
        "minutes": pl.Int64(),
        "daily_totals": pl.Int64(),
    }
    names = table_names(con)
    parts = []
    if "minutes" in names:
        parts.append(
            """SELECT source, device, timezone(?, min(minute_utc)) AS first_local,
                      timezone(?, max(minute_utc)) AS last_local, count(*) AS minutes, 0 AS daily_totals
               FROM minutes WHERE participant_id = ? GROUP BY 1, 2"""
        )
    if "daily_totals" in names:
        parts.append(
            """SELECT source, device, min(local_date)::TIMESTAMP, max(local_date)::TIMESTAMP, 0, count(*)
               FROM daily_totals WHERE participant_id = ? GROUP BY 1, 2"""
        )
    if not parts:
        return _empty(columns)
    params: list[object] = []
    if "minutes" in names:
        params += [zone, zone, participant_id]
    if "daily_totals" in names:
        params.append(participant_id)
    sql = f"""
        SELECT source, device, min(first_local) AS first_local, max(last_local) AS last_local,
               sum(minutes) AS minutes, sum(daily_totals) AS daily_totals
        FROM ({" UNION ALL ".join(parts)}) GROUP BY 1, 2 ORDER BY last_local DESC
    """
    return _typed(_frame(con, sql, params), columns)


def problem_files(con: duckdb.DuckDBPyConnection, participant_id: str, zone: str) -> pl.DataFrame:
    """The participant's quarantined or partial files, with reasons, newest first."""
    columns = {
        "ingested_local": pl.Datetime("us"),
        "status": pl.String(),
        "reason": pl.String(),
        "path": pl.String(),
        "kind": pl.String(),
        "size_bytes": pl.Int64(),
    }
    if "files" not in table_names(con):
        return _empty(columns)
    frame = _frame(
        con,
        """
        SELECT timezone(?, ingested_at) AS ingested_local, status, reason, path, kind, size_bytes
        FROM files WHERE participant_id = ? AND status IN ('quarantined', 'partial')
        ORDER BY ingested_at DESC, path
        """,
        [zone, participant_id],
    )
    return _typed(frame, columns)


def files_by_status(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Files across the study by status and reason: count, bytes, participants."""
    columns = {
        "status": pl.String(),
        "reason": pl.String(),
        "files": pl.Int64(),
        "size_bytes": pl.Int64(),
        "participants": pl.Int64(),
    }
    if "files" not in table_names(con):
        return _empty(columns)
    frame = _frame(
        con,
        """
        SELECT status, coalesce(reason, '') AS reason, count(*) AS files, sum(size_bytes) AS size_bytes,
               count(DISTINCT participant_id) AS participants
        FROM files GROUP BY 1, 2 ORDER BY files DESC, status, reason
        """,
    )
    return _typed(frame, columns)


def last_run(con: duckdb.DuckDBPyConnection, zone: str) -> dict[str, object] | None:
    """The most recent run (nightly or manual), times in ``zone``; None when none is recorded."""
    if "runs" not in table_names(con):
        return None
    frame = _frame(
        con,
        """
        SELECT * REPLACE (timezone(?, started_at) AS started_at, timezone(?, finished_at) AS finished_at)
        FROM runs ORDER BY started_at DESC LIMIT 1
        """,
        [zone, zone],
    )
    return frame.row(0, named=True) if frame.height else None


def daily_between(con: duckdb.DuckDBPyConnection, since: date, until: date) -> pl.DataFrame:
    """Every participant's local days in [since, until]: wear minutes and whether the day is valid."""
    columns = {
        "participant_id": pl.String(),
        "local_date": pl.Date(),
        "wear_minutes": pl.Int64(),
        "valid": pl.Boolean(),
    }
    if "daily" not in table_names(con):
        return _empty(columns)
    frame = _frame(
        con,
        "SELECT participant_id, local_date, wear_minutes, valid FROM daily WHERE local_date BETWEEN ? AND ?",
        [since, until],
    )
    return _typed(frame, columns)


def weekly_between(con: duckdb.DuckDBPyConnection, since: date, until: date) -> pl.DataFrame:
    """Weekly rows of weeks overlapping [since, until] (participant_id, week_start, status)."""
    columns = {"participant_id": pl.String(), "week_start": pl.Date(), "status": pl.String()}
    if "weekly" not in table_names(con):
        return _empty(columns)
    frame = _frame(
        con,
        "SELECT participant_id, week_start, status FROM weekly WHERE week_start BETWEEN ? AND ?",
        [since - timedelta(days=6), until],
    )
    return _typed(frame, columns)
