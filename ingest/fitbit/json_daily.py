"""Daily series of the Takeout / legacy-archive JSON family, as ``daily_totals`` rows.

``moderately_active_minutes-*.json`` and its siblings are keyed by the local
date Fitbit gives them; a day of 1440 sedentary minutes is marked not worn;
``resting_heart_rate`` fills the day's resting rate; ``time_in_heart_rate_zones``
daily totals become rows of their own source (``fitbit_hr_zones``; see
``HR_ZONE_COLUMNS``). Dates are local, so only the day's offset comes from the
participant's clock (``clock.ClockDecision``).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import polars as pl

from ingest.contract import Member, ReadResult
from ingest.fitbit.bouting import BoutDecision
from ingest.fitbit.clock import ClockDecision, attach_day_offsets
from ingest.fitbit.discovery import FitbitFile
from ingest.fitbit.json_scan import JsonDamage, scan_stamped_integers
from ingest.fitbit.results import quarantined
from ingest.fitbit.tables import SOURCE_HR_ZONES, SOURCE_TAKEOUT, daily_table
from ingest.salvage import Dropped, checked_number, examples_of, without_bom

DAILY_COLUMNS: dict[str, str] = {
    "moderately_active_minutes": "moderate_minutes",
    "very_active_minutes": "vigorous_minutes",
    "lightly_active_minutes": "light_minutes",
    "sedentary_minutes": "sedentary_minutes",
}
"""JSON daily series to the daily_totals column they fill."""

MINUTES_PER_DAY = 1440

HR_ZONE_COLUMNS: dict[str, str] = {
    "BELOW_DEFAULT_ZONE_1": "sedentary_minutes",
    "IN_DEFAULT_ZONE_1": "moderate_minutes",
    "IN_DEFAULT_ZONE_2": "vigorous_minutes",
    "IN_DEFAULT_ZONE_3": "vigorous_minutes",
}
"""``time_in_heart_rate_zones-*.json`` (``value.valuesInZones``, minutes per local date) to
daily_totals columns. Fitbit's default zones are the device's own heart-rate-reserve
classification: fat burn (zone 1) 40-59 % HRR is ACSM's moderate band (40-59 %); cardio
(zone 2, 60-84 %) and peak (zone 3, 85 % and above) are vigorous (60 % and above). Below
zone 1 holds sedentary and light minutes together (the zones cannot tell them apart); it is
kept under ``sedentary_minutes`` so that the day's wear, the sum of all four, is the minutes
the device measured heart rate. Each minute is in one zone, so these are clock minutes (not
Active Zone Minutes credits). Caveat: before Fitbit's 2020 change to heart-rate reserve
the zones were % of max HR (fat burn 50-69 %, cardio 70-84 %, peak 85 % and above), and
50 % of max HR is below 40 % HRR for most people: older files count some light minutes as
moderate. The rows get a source of their own (``fitbit_hr_zones``), ranked last in the
default ``source_precedence``, so they fill only days that no minute row and no other
source's daily totals cover, and never mix with ``moderately_active_minutes`` of the
same day."""


@dataclass
class Daily:
    """One daily file's days, with what was dropped on the way and whether the file is cut."""

    frame: pl.DataFrame
    dropped: Dropped
    cut: str | None = None


_RECORD_DATE = (
    pl.col("dateTime")
    .cast(pl.String, strict=False)
    .str.strptime(pl.Datetime("us"), "%m/%d/%y %H:%M:%S", strict=False)
    .dt.date()
    .alias("local_date")
)
"""A record's ``dateTime`` (``MM/DD/YY 00:00:00``, the local day) as ``local_date``; null when unreadable."""


def _records(
    file: FitbitFile, member: Member, empty: pl.DataFrame
) -> pl.DataFrame | Daily | ReadResult:
    """A daily JSON file's records as a frame, or the file's result when there is nothing to read.

    An empty file or an empty list is ``empty`` days; bytes that cannot be read
    or are not JSON quarantine the file with the reason.
    """
    try:
        raw = without_bom(member.load())
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    if not raw.strip():
        return Daily(empty, Dropped())
    try:
        frame = pl.read_json(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars raises several error types for bad JSON
        return quarantined(file.kind, member.path, f"not valid JSON: {exc}")
    return Daily(empty, Dropped()) if frame.height == 0 else frame


def _dated(days: pl.DataFrame, keep: pl.Expr | None = None) -> Daily:
    """``days`` with readable dates (and ``keep``), the last record of a date winning; unreadable dates are counted."""
    dropped = Dropped()
    dropped.add(*examples_of(days, pl.col("local_date").is_null(), ["local_date"], "record"))
    dated = pl.col("local_date").is_not_null()
    kept = days.filter(dated if keep is None else dated & keep)
    return Daily(kept.unique("local_date", keep="last"), dropped)


def read_daily_series(file: FitbitFile, member: Member) -> Daily | ReadResult:
    """A daily JSON series as ``local_date`` and its canonical column, or a quarantine result."""
    try:
        series = scan_stamped_integers(member.load(), b"value", True)
    except JsonDamage as exc:
        return quarantined(file.kind, member.path, str(exc))
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    frame = series.frame().select(
        pl.col("stamp").dt.date().alias("local_date"),
        pl.col("value").cast(pl.Int32, strict=False).alias(DAILY_COLUMNS[file.series]),
    )
    return Daily(frame.unique("local_date", keep="last"), series.dropped, series.cut)


def read_resting_heart_rate(file: FitbitFile, member: Member) -> Daily | ReadResult:
    """``resting_heart_rate-*.json`` (``value: {date, value, error}``) as ``local_date`` and bpm.

    Fitbit writes 0 (or nothing) on days it could not compute a resting rate;
    those days are left out rather than recorded as 0 bpm.
    """
    empty = pl.DataFrame(schema={"local_date": pl.Date, "resting_heart_rate_bpm": pl.Float32})
    frame = _records(file, member, empty)
    if not isinstance(frame, pl.DataFrame):
        return frame
    value = frame.schema.get("value")
    if (
        "dateTime" not in frame.columns
        or not isinstance(value, pl.Struct)
        or "value" not in [f.name for f in value.fields]
    ):
        return quarantined(
            file.kind,
            member.path,
            f"records are not {{dateTime, value: {{value}}}}; columns {frame.columns}",
        )
    days = frame.select(
        _RECORD_DATE,
        checked_number(pl.col("value").struct.field("value"), pl.Float32(), text=False).alias(
            "resting_heart_rate_bpm"
        ),
    )
    return _dated(days, keep=pl.col("resting_heart_rate_bpm") > 0)


def read_heart_rate_zones(file: FitbitFile, member: Member) -> Daily | ReadResult:
    """``time_in_heart_rate_zones-*.json`` as ``local_date``, zone minutes and ``worn``.

    Records are ``{"dateTime": "MM/DD/YY 00:00:00", "value": {"valuesInZones":
    {"BELOW_DEFAULT_ZONE_1": 1187.0, "IN_DEFAULT_ZONE_1": 12.0, ...}}}``; a zone the record
    leaves out counts 0, and a day with no minute in any zone is not worn.
    """
    columns = sorted(set(HR_ZONE_COLUMNS.values()))
    empty = pl.DataFrame(
        schema={"local_date": pl.Date, **dict.fromkeys(columns, pl.Int32), "worn": pl.Boolean}
    )
    frame = _records(file, member, empty)
    if not isinstance(frame, pl.DataFrame):
        return frame
    value = frame.schema.get("value")
    zones = (
        next((f.dtype for f in value.fields if f.name == "valuesInZones"), None)
        if isinstance(value, pl.Struct)
        else None
    )
    if "dateTime" not in frame.columns or not isinstance(zones, pl.Struct):
        return quarantined(
            file.kind,
            member.path,
            f"records are not {{dateTime, value: {{valuesInZones}}}}; columns {frame.columns}",
        )
    present = {f.name for f in zones.fields}
    in_zones = pl.col("value").struct.field("valuesInZones")

    def zone(name: str) -> pl.Expr:
        if name not in present:
            return pl.lit(0.0)
        return checked_number(in_zones.struct.field(name), pl.Float64(), text=False).fill_null(0)

    sums = {
        column: pl.sum_horizontal(zone(z) for z, c in HR_ZONE_COLUMNS.items() if c == column)
        .round()
        .cast(pl.Int32)
        .alias(column)
        for column in columns
    }
    days = frame.select(
        _RECORD_DATE,
        *sums.values(),
    ).with_columns((pl.sum_horizontal(columns) > 0).alias("worn"))
    return _dated(days)


def daily_results(
    dailies: dict[str, tuple[FitbitFile, Member, Daily]],
    decision: ClockDecision,
    bouts: BoutDecision,
) -> dict[str, ReadResult]:
    """One daily_totals table per daily file; wear comes from the sedentary series of the same export."""
    sedentary = [d.frame for f, _, d in dailies.values() if f.series == "sedentary_minutes"]
    wear = (
        pl.concat(sedentary)
        .group_by("local_date")
        .agg((pl.col("sedentary_minutes").max() < MINUTES_PER_DAY).alias("worn"))
        if sedentary
        else pl.DataFrame(schema={"local_date": pl.Date, "worn": pl.Boolean})
    )
    out: dict[str, ReadResult] = {}
    for path, (file, _member, daily) in dailies.items():
        zones = file.series == "time_in_heart_rate_zones"
        own = daily.frame if zones else daily.frame.join(wear, on="local_date", how="left")
        rows = attach_day_offsets(own, decision).with_columns(
            pl.lit(SOURCE_HR_ZONES if zones else SOURCE_TAKEOUT).alias("source"),
            pl.lit(bouts.bouted).alias("bouted"),
        )
        out[path] = ReadResult(
            kind=file.kind,
            status="partial" if daily.cut else "ok",
            reason=f"{path}: {daily.cut}" if daily.cut else None,
            tables={"daily_totals": daily_table(rows)},
            notes={
                **decision.notes(),
                "days": rows.height,
                "days_not_worn": int(rows.filter(pl.col("worn").not_()).height),
                "bouted": bouts.bouted,
                "bouted_basis": bouts.basis,
                **daily.dropped.notes(),
                **({"cut": daily.cut} if daily.cut else {}),
            },
        )
    return out
