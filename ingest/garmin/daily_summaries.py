"""Garmin ``UDSFile_*.json`` (user daily summaries) into ``daily_totals``.

Each file is a JSON array of days keyed by ``calendarDate`` (the local day).
irisin keeps, per day: ``moderateIntensityMinutes`` and
``vigorousIntensityMinutes`` as clock minutes, exactly as the fields give
them (Garmin's headline "intensity minutes" is moderate + 2 x vigorous;
irisin never forms or stores that doubled figure), ``totalSteps``,
``restingHeartRate``, ``minHeartRate`` and ``maxHeartRate``, and the day's
UTC offset as ``wellnessStartTimeLocal - wellnessStartTimeGmt`` (the offset
at the start of the local day; on a DST day the end-of-day offset differs
and the day is listed in the notes).

Bouts: Garmin's device manuals (e.g. Forerunner 945: "exercise for at least
10 consecutive minutes at a moderate or vigorous intensity level") describe
intensity minutes as earned in sustained runs, with a minimum that varies by
model and firmware, and the export does not say which device produced a day.
irisin marks a file's days ``bouted=True`` (a possible undercount of
WHO-2020 every-minute MVPA, never an overcount) unless the file itself shows
otherwise: a day with between 1 and 9 moderate-plus-vigorous minutes cannot
come from a 10-minute bout rule, so its presence marks every day of that
file ``bouted=False``. (A bout straddling local midnight could in principle
leave a few minutes on each side; irisin accepts that rare false signal
rather than calling every modern device bouted.) The evidence is recorded in
the notes.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from config.conform import PIPELINE_FILLED, conform
from config.schema import DAILY_TOTALS
from ingest.contract import ReadContext, ReadResult
from ingest.garmin.json_records import GarminFormatError, load_array, records_to_columns
from ingest.garmin.layout import GarminKind
from ingest.garmin.tables import DEVICE, SOURCE, in_range_or_null, offset_minutes

GARMIN_BOUT_MINUTES = 10
"""The bout length older Garmin devices require before intensity minutes accrue."""

UDS_FIELDS: dict[str, pa.DataType] = {
    "calendarDate": pa.string(),
    "totalSteps": pa.float64(),
    "moderateIntensityMinutes": pa.float64(),
    "vigorousIntensityMinutes": pa.float64(),
    "restingHeartRate": pa.float64(),
    "minHeartRate": pa.float64(),
    "maxHeartRate": pa.float64(),
    "wellnessStartTimeGmt": pa.string(),
    "wellnessStartTimeLocal": pa.string(),
    "wellnessEndTimeGmt": pa.string(),
    "wellnessEndTimeLocal": pa.string(),
    "includesWellnessData": pa.bool_(),
}
"""The ``UDSFile`` keys irisin reads, with the Arrow type each is read as (numbers as float, then checked)."""

_GARMIN_LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"
"""Wellness times look like ``2025-06-09T22:00:00.0``: no zone, optional fraction."""

MINUTES_PER_DAY = 1440
MAX_PLAUSIBLE_HEART_RATE_BPM = 250.0


def _garmin_time(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(_GARMIN_LOCAL_FORMAT, strict=False, time_unit="ms")


def read_daily_summaries(data: bytes, name: str, ctx: ReadContext) -> ReadResult:
    """Read one ``UDSFile`` into ``daily_totals``; raise ``GarminFormatError`` if it cannot be read at all.

    Days without a readable ``calendarDate`` are dropped (the file stays ``ok``,
    counted in the notes); a file where no day has one is refused. A day whose
    wellness times are missing takes its offset from the roster time zone
    (``ctx.timezone``) at local midnight, when known.
    """
    loaded = load_array(data, name)
    document = loaded.document
    if not isinstance(document, list):
        raise GarminFormatError(
            f"{name}: expected a JSON array of days, found a JSON {type(document).__name__}"
        )
    columns = records_to_columns(document, UDS_FIELDS, name)
    raw = columns.frame
    if raw.height and raw.get_column("calendarDate").null_count() == raw.height:
        raise GarminFormatError(
            f"{name}: required field 'calendarDate' is missing from all {raw.height} days"
        )

    days = raw.with_columns(
        local_date=pl.col("calendarDate").str.to_date("%Y-%m-%d", strict=False),
        start_offset=offset_minutes(
            _garmin_time("wellnessStartTimeLocal"), _garmin_time("wellnessStartTimeGmt")
        ),
        end_offset=offset_minutes(
            _garmin_time("wellnessEndTimeLocal"), _garmin_time("wellnessEndTimeGmt")
        ),
    )
    undated = int(days.get_column("local_date").null_count())
    days = days.filter(pl.col("local_date").is_not_null())
    if raw.height and days.is_empty():
        raise GarminFormatError(f"{name}: no 'calendarDate' is a YYYY-MM-DD date")
    duplicates = days.height - days.get_column("local_date").n_unique()
    days = days.unique("local_date", keep="last", maintain_order=True).sort("local_date")

    from_roster = 0
    if ctx.timezone:
        from_roster = int(days.get_column("start_offset").null_count())
        days = days.with_columns(
            start_offset=pl.coalesce("start_offset", _roster_offset(ctx.timezone))
        )

    heart_rate = {
        out: in_range_or_null(pl.col(key), 1.0, MAX_PLAUSIBLE_HEART_RATE_BPM)
        for out, key in (
            ("resting_heart_rate_bpm", "restingHeartRate"),
            ("min_heart_rate_bpm", "minHeartRate"),
            ("max_heart_rate_bpm", "maxHeartRate"),
        )
    }
    frame = days.select(
        participant_id=pl.lit(ctx.participant_id),
        source=pl.lit(SOURCE),
        device=pl.lit(DEVICE),
        local_date=pl.col("local_date"),
        utc_offset_minutes=pl.col("start_offset"),
        moderate_minutes=in_range_or_null(
            pl.col("moderateIntensityMinutes"), 0, MINUTES_PER_DAY
        ).round(0),
        vigorous_minutes=in_range_or_null(
            pl.col("vigorousIntensityMinutes"), 0, MINUTES_PER_DAY
        ).round(0),
        steps=in_range_or_null(pl.col("totalSteps"), 0, 2**31 - 1).round(0),
        **heart_rate,
        worn=pl.when(pl.col("includesWellnessData").not_()).then(False).otherwise(None),
    )
    short_days = _days_shorter_than_a_bout(frame)
    frame = frame.with_columns(bouted=pl.lit(short_days == 0))

    notes = _notes(days, undated=undated, duplicates=duplicates, from_roster=from_roster)
    notes["bouted"] = short_days == 0
    notes["days_with_fewer_minutes_than_a_bout"] = short_days
    if columns.unreadable:
        notes["unreadable_values"] = columns.unreadable
    if (
        undated or columns.unreadable
    ):  # dropped days and null values cost only themselves: the file stays ok
        notes["losses"] = _loss_messages(undated, columns.unreadable)
    notes.update(loaded.notes())
    return ReadResult(
        kind=GarminKind.DAILY_SUMMARIES.value,
        status="partial" if loaded.cut else "ok",
        reason=f"{name}: {loaded.cut}" if loaded.cut else None,
        tables={"daily_totals": conform(frame, DAILY_TOTALS, filled_later=PIPELINE_FILLED)},
        notes=notes,
    )


def _days_shorter_than_a_bout(frame: pl.DataFrame) -> int:
    """Days whose moderate+vigorous total is 1 to 9 minutes: proof the device counts single minutes."""
    total = pl.col("moderate_minutes").fill_null(0) + pl.col("vigorous_minutes").fill_null(0)
    return int(frame.select(total.is_between(1, GARMIN_BOUT_MINUTES - 1).sum()).item())


def _roster_offset(timezone: str) -> pl.Expr:
    """UTC offset in minutes at local midnight of ``local_date`` in the roster's IANA zone."""
    midnight = (
        pl.col("local_date")
        .cast(pl.Datetime("ms"))
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    )
    total = midnight.dt.base_utc_offset() + midnight.dt.dst_offset()
    return total.dt.total_minutes().cast(pl.Int32)


def _notes(
    days: pl.DataFrame, *, undated: int, duplicates: int, from_roster: int
) -> dict[str, Any]:
    notes: dict[str, Any] = {"days": days.height}
    if days.height:
        notes["first_date"] = days.get_column("local_date").min().isoformat()  # type: ignore[union-attr]
        notes["last_date"] = days.get_column("local_date").max().isoformat()  # type: ignore[union-attr]
        notes["utc_offsets_minutes"] = (
            days.get_column("start_offset").drop_nulls().unique().sort().to_list()
        )
        dst = days.filter(pl.col("start_offset") != pl.col("end_offset"))
        if dst.height:
            notes["offset_changes_within_day"] = [
                d.isoformat() for d in dst.get_column("local_date").to_list()
            ]
        missing = int(days.get_column("start_offset").null_count())
        if missing:
            notes["days_without_utc_offset"] = missing
    if undated:
        notes["days_dropped_without_calendar_date"] = undated
    if duplicates:
        notes["duplicate_days_dropped"] = duplicates
    if from_roster:
        notes["days_offset_from_roster_timezone"] = from_roster
    return notes


def _loss_messages(undated: int, unreadable: dict[str, int]) -> list[str]:
    messages = []
    if undated:
        messages.append(f"{undated} day(s) without a readable 'calendarDate' dropped")
    messages.extend(
        f"{count} unreadable value(s) of '{key}' read as null" for key, count in unreadable.items()
    )
    return messages
