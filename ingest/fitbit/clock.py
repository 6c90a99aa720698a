"""Which clock a participant's Takeout JSON stamps are on, and their UTC offsets.

Fitbit names each intraday JSON file for a *local* date. In real legacy
archives the stamps inside are UTC (``heart_rate-2015-05-19.json`` of a user at
UTC+10 runs from ``05/18/15 14:00:00`` to ``05/19/15 13:59:50``); an importer of
2026 archives reports local wall time. Rather than assume either, each file's
first and last stamp are compared with the local midnight its name implies:

* local clock: every file's stamps fall inside its named day, ``0 <= first - midnight`` and
  ``last - midnight < 24 h``;
* UTC clock at offset ``o``: stamps fall inside ``[midnight - o, next midnight - o)``.

A file that starts before or ends after its named day rules out the local
clock. A heart-rate file worn around the clock pins ``o`` to within seconds
(it starts at local midnight expressed in UTC); partly worn files only bound
it, and take the offset of the nearest pinned day. When two consecutive days
pin different offsets (a DST change), the change is placed at 02:00 local of
the earlier day, the usual switch time. A roster timezone, when known, gives
the offsets instead and is checked against the same bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl

DAY = 86_400
QUARTER_HOUR = 900
_DST_SLACK = 3_600  # a named day is 23 or 25 hours long at a DST change
DST_CHANGE_LOCAL_SECONDS = 2 * 3_600
"""Local time of day (old offset) assumed for an offset change when no roster zone says when."""

Clock = Literal["utc", "local"]


@dataclass(frozen=True)
class FileSpan:
    """First and last stamp (naive, seconds since 1970) of a file named for a local day."""

    named_day: date
    first: int
    last: int
    whole_day: bool = True
    """False for files that start on their named day but run for weeks (steps)."""

    @property
    def midnight(self) -> int:
        return (self.named_day - date(1970, 1, 1)).days * DAY

    @property
    def lo(self) -> int:
        return self.first - self.midnight

    @property
    def hi(self) -> int:
        return self.last - self.midnight


@dataclass
class ClockDecision:
    """The detected clock, per-day UTC offsets (minutes) and the evidence, for the manifest."""

    clock: Clock
    timezone: str | None
    day_offsets: pl.DataFrame
    """``day_start_utc`` (Datetime us UTC) and ``utc_offset_minutes``: offset in force from that instant."""
    evidence: dict[str, Any] = field(default_factory=dict)

    def notes(self) -> dict[str, Any]:
        return {"clock": self.clock, "timezone": self.timezone, **self.evidence}


def _offset_at_local_midnight(tz: ZoneInfo, day: date) -> int:
    """UTC offset in seconds of ``tz`` at the start of local ``day``."""
    offset = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _fits_utc(span: FileSpan, offset: int) -> bool:
    upper = DAY + _DST_SLACK - offset
    return span.lo >= -offset - _DST_SLACK and (span.hi < upper if span.whole_day else True)


def _pinned_offset(span: FileSpan) -> int | None:
    """The offset at the start of the local day, when a UTC-clock file covers that whole day.

    A whole day runs from ``midnight - o_start`` to ``next midnight - o_end``;
    the gap between ``-lo`` and ``24 h - hi`` is then a few seconds, or one
    hour on a DST day (23 or 25 hours long). Anything wider is a partly worn
    day, which only bounds the offset.
    """
    if not span.whole_day:
        return None
    start, end = -span.lo, DAY - span.hi
    width = end - start
    if min(abs(width), abs(abs(width) - _DST_SLACK)) > QUARTER_HOUR:
        return None
    return int(round(start / QUARTER_HOUR)) * QUARTER_HOUR


def detect_clock(spans: list[FileSpan], timezone: str | None) -> ClockDecision:
    """Decide the clock of one participant's JSON stamps from the files' spans."""
    outside = [s for s in spans if s.lo < 0 or (s.whole_day and s.hi >= DAY)]
    evidence: dict[str, Any] = {
        "clock_files_checked": len(spans),
        "clock_files_outside_named_day": len(outside),
    }
    if not spans:
        clock: Clock = "utc"
        evidence["clock_basis"] = (
            "no intraday files to test; assumed UTC as in real legacy archives"
        )
    elif outside:
        clock = "utc"
        evidence["clock_basis"] = "stamps cross the local day named in the file name"
    else:
        clock = "local"
        evidence["clock_basis"] = (
            "every file's stamps lie within the local day named in its file name"
        )
    tz = ZoneInfo(timezone) if timezone else None
    if clock == "local":
        return ClockDecision(clock, timezone, _empty_offsets(), evidence)
    if tz is not None:
        mismatched = [
            s.named_day.isoformat()
            for s in spans
            if not _fits_utc(s, _offset_at_local_midnight(tz, s.named_day))
        ]
        evidence["offset_basis"] = "roster timezone"
        evidence["days_contradicting_timezone"] = mismatched[:20]
        return ClockDecision(clock, timezone, _empty_offsets(), evidence)
    return ClockDecision(clock, None, *_offsets_from_spans(spans, evidence))


def _offsets_from_spans(
    spans: list[FileSpan], evidence: dict[str, Any]
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Per-named-day offsets: pinned where a file pins them, else the nearest pinned day's."""
    days = sorted({s.named_day for s in spans})
    pinned = {s.named_day: p for s in spans if (p := _pinned_offset(s)) is not None}
    evidence["offset_basis"] = "inferred from file boundaries (no roster timezone)"
    evidence["days_with_pinned_offset"] = len(pinned)
    if not pinned:
        evidence["offset_basis"] = "undetermined: no file covers a whole local day"
        return _empty_offsets(), evidence
    frame = (
        pl.DataFrame({"named_day": days})
        .join(
            pl.DataFrame({"named_day": list(pinned), "offset_s": list(pinned.values())}),
            on="named_day",
            how="left",
        )
        .sort("named_day")
    )
    known = frame.drop_nulls().rename({"named_day": "pinned_day"})
    frame = frame.join_asof(known, left_on="named_day", right_on="pinned_day", strategy="nearest")
    offset = pl.col("offset_s_right")
    previous = offset.shift(1)
    changed = (offset != previous) & (
        (pl.col("named_day") - pl.col("named_day").shift(1)).dt.total_days() == 1
    )
    # A change between two consecutive days happened during the earlier one; without a zone the
    # instant is unknown, so the usual 02:00 local (on the old offset) of the earlier day is taken.
    start = (
        pl.when(changed)
        .then(
            (pl.col("named_day") - pl.duration(days=1)).cast(pl.Datetime("us"))
            + pl.duration(seconds=DST_CHANGE_LOCAL_SECONDS - previous)
        )
        .otherwise(pl.col("named_day").cast(pl.Datetime("us")) - pl.duration(seconds=offset))
    )
    offsets = frame.select(
        start.dt.replace_time_zone("UTC").alias("day_start_utc"),
        (offset // 60).cast(pl.Int16).alias("utc_offset_minutes"),
    )
    evidence["utc_offsets_seen_minutes"] = sorted(set(offsets["utc_offset_minutes"].to_list()))
    return offsets, evidence


def _empty_offsets() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"day_start_utc": pl.Datetime("us", "UTC"), "utc_offset_minutes": pl.Int16}
    )


def attach_offsets(
    frame: pl.DataFrame, decision: ClockDecision, utc_col: str = "minute_utc"
) -> pl.DataFrame:
    """Add ``utc_offset_minutes`` to rows keyed by a UTC instant, from the decision's zone or day table."""
    if decision.timezone:
        from ingest.zones import offsets_from_zone

        return frame.with_columns(
            offsets_from_zone(pl.col(utc_col), decision.timezone).alias("utc_offset_minutes")
        )
    if decision.day_offsets.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.Int16).alias("utc_offset_minutes"))
    return (
        frame.sort(utc_col)
        .join_asof(
            decision.day_offsets.sort("day_start_utc"),
            left_on=utc_col,
            right_on="day_start_utc",
            strategy="backward",
        )
        .with_columns(
            pl.col("utc_offset_minutes").fill_null(decision.day_offsets["utc_offset_minutes"][0])
        )
        .drop("day_start_utc")
    )


def attach_day_offsets(frame: pl.DataFrame, decision: ClockDecision) -> pl.DataFrame:
    """Add ``utc_offset_minutes`` at the start of each row's ``local_date``, for daily totals."""
    if decision.timezone:
        midnight = pl.col("local_date").cast(pl.Datetime("us"))
        utc = midnight.dt.replace_time_zone(
            decision.timezone, ambiguous="earliest", non_existent="null"
        )
        offset = (
            midnight - utc.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        ).dt.total_minutes()
        return frame.with_columns(offset.cast(pl.Int16).alias("utc_offset_minutes"))
    if decision.day_offsets.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.Int16).alias("utc_offset_minutes"))
    table = decision.day_offsets.select(
        (
            pl.col("day_start_utc").dt.replace_time_zone(None)
            + pl.duration(minutes=pl.col("utc_offset_minutes"))
        )
        .dt.date()
        .alias("offset_day"),
        "utc_offset_minutes",
    ).sort("offset_day")
    return (
        frame.sort("local_date")
        .join_asof(table, left_on="local_date", right_on="offset_day", strategy="nearest")
        .drop("offset_day")
    )
