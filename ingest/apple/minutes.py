"""Apple Health records to canonical minute rows.

A record is a sample over ``[startDate, endDate]`` in the device's own local
time with its UTC offset (``2024-03-01 08:15:00 +0100``). A sample that covers
more than one clock minute is spread over the minutes it covers:

* steps **pro rata**: each minute gets the share of the record's steps that
  falls in its seconds, rounded so that the minutes of one record add up to
  the record's exact count (the rounding is done on the running total, so no
  step is created or lost);
* ``AppleExerciseTime`` (the watch's minutes of at least brisk walking, the
  device's own "at least moderate" label) the same way, in minutes: a minute
  whose share rounds to one is labelled ``moderate`` (with ``worn`` true);
* heart rate: the sample's value applies to every minute it covers (most are
  instants, which fall in one minute); a minute's heart rate is the mean of
  its samples.

Rows are kept per device: an iPhone and a Watch that both counted a walk give
two rows for the same minute, which the combine step counts once like any two
sources. Exercise labels travel in rows of their own, so a minute whose heart
rate reads vigorous is not capped at the label's "moderate" (the combine step
takes the highest level of a minute's rows).

Each minute carries the UTC offset of the record it came from. A record that
spans a DST change (its start and end offsets differ) takes, minute by minute,
the roster zone's offset where that zone agrees with one of the two, else the
start's offset.
"""

from __future__ import annotations

import re

import polars as pl
import pyarrow as pa

from ingest.apple.scan import EXERCISE, HEART_RATE, RESTING_HEART_RATE, STEPS
from ingest.zones import offsets_from_zone

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"
MAX_SPREAD_SECONDS = 86_400
"""Longest record spread over minutes; longer ones (whole-period totals some apps write) are dropped and counted."""

SOURCE = "apple_health"
_POSSESSIVE = re.compile(r"^.*?['\u2019]s\s+(?=\S)")
_DEVICE_NAME = re.compile(r"\bname:([^,>]+)")
_DEVICE_HARDWARE = re.compile(r"\bhardware:(.+?)(?:,\s|>|$)")


def device_label(device: str | None, source_name: str | None) -> str | None:
    """A device name without the owner's name: ``Apple Watch (Watch6,2)``, ``iPhone (iPhone14,5)``, ``Strava``.

    The ``device`` attribute (``<<HKDevice ...>, name:Apple Watch, ...
    hardware:Watch6,2, ...>``) is preferred; else the ``sourceName``, whose
    possessive prefix ("Jane's Apple Watch") is dropped, since the lake should
    not hold participants' names.
    """
    if device:
        name = _DEVICE_NAME.search(device)
        hardware = _DEVICE_HARDWARE.search(device)
        if name:
            label = name.group(1).strip()
            return f"{label} ({hardware.group(1).strip()})" if hardware else label
    if source_name:
        return _POSSESSIVE.sub("", source_name.strip()) or source_name.strip()
    return None


def _epoch_seconds(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(TIME_FORMAT, strict=False, time_unit="us").dt.epoch("s")


def offset_minutes(column: str) -> pl.Expr:
    """``+0100`` at the end of an Apple timestamp as minutes (null when absent)."""
    tail = pl.col(column).str.slice(-5)
    sign = pl.when(tail.str.slice(0, 1) == "-").then(-1).when(tail.str.slice(0, 1) == "+").then(1)
    hours = tail.str.slice(1, 2).cast(pl.Int32, strict=False)
    minutes = tail.str.slice(3, 2).cast(pl.Int32, strict=False)
    return (sign * (hours * 60 + minutes)).cast(pl.Int16)


def unescape_attribute(text: str | None) -> str | None:
    """An attribute value's five predefined XML entities decoded (the fast path lets no other through)."""
    if text is None or "&" not in text:
        return text
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&")


def parse_chunk(raw: pl.DataFrame, *, escaped: bool = False) -> pl.DataFrame:
    """Typed records: kind, start_s/end_s (Unix seconds), start/end offsets, value, device label.

    ``raw`` holds strings as ``ingest.apple.scan.RecordChunk.to_frame`` gives
    them; with ``escaped`` its ``device_raw`` and ``source_name`` still carry
    XML entities (``ingest.apple.fast_scan``), decoded here once per distinct
    pair, since only the device label is made from them.
    """
    key = pl.concat_str(
        [pl.col("device_raw").fill_null(""), pl.lit("\x1f"), pl.col("source_name").fill_null("")]
    )
    pairs = raw.select(key.alias("key"), "device_raw", "source_name").unique("key")
    decode = unescape_attribute if escaped else (lambda text: text)
    labels = {k: device_label(decode(d), decode(s)) for k, d, s in pairs.iter_rows()}
    return raw.select(
        "kind",
        _epoch_seconds("start").alias("start_s"),
        _epoch_seconds("end").alias("end_s"),
        offset_minutes("start").alias("start_off"),
        offset_minutes("end").alias("end_off"),
        pl.col("value").cast(pl.Float64, strict=False),
        key.replace_strict(labels, return_dtype=pl.String).alias("device"),
    )


def usable(records: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Records with a start, an end not before it, a value, and at most a day long; counts of the rest."""
    end = pl.col("end_s").fill_null(pl.col("start_s"))
    checks = {
        "records_dropped_bad_time": pl.col("start_s").is_null() | (end < pl.col("start_s")),
        "records_dropped_bad_value": pl.col("value").is_null()
        | ~pl.col("value").is_finite()
        | (pl.col("value") < 0),
        "records_dropped_longer_than_a_day": (end - pl.col("start_s")) > MAX_SPREAD_SECONDS,
    }
    flagged = records.with_columns(
        end.alias("end_s"), **{k: v.fill_null(True) for k, v in checks.items()}
    )
    counts = {k: int(flagged[k].sum()) for k in checks}
    bad = pl.any_horizontal(list(checks))
    return flagged.filter(~bad).drop(list(checks)), {k: v for k, v in counts.items() if v}


def _zone_offset(timezone: str) -> pl.Expr:
    utc = pl.from_epoch(pl.col("minute") * 60, time_unit="s").dt.replace_time_zone("UTC")
    return offsets_from_zone(utc, timezone)


def spread(records: pl.DataFrame, timezone: str | None) -> pl.DataFrame:
    """One row per (record, covered minute): ``minute`` (Unix minutes), ``amount``, ``offset``.

    ``amount`` is the minute's share of steps or exercise minutes, or the
    heart rate itself. ``records`` are ``usable`` rows without resting heart rate.
    """
    first = pl.col("start_s") // 60
    last = (
        pl.when(pl.col("end_s") > pl.col("start_s"))
        .then((pl.col("end_s") - 1) // 60)
        .otherwise(first)
    )
    records = records.with_columns(first.alias("first"), last.alias("last"))
    single = records.filter(pl.col("first") == pl.col("last")).select(
        "kind",
        "device",
        pl.col("first").alias("minute"),
        pl.col("value").alias("amount"),
        pl.col("start_off").alias("offset"),
    )
    multi = records.filter(pl.col("first") != pl.col("last"))
    if multi.height == 0:
        return single
    exploded = multi.with_columns(
        pl.int_ranges("first", pl.col("last") + 1).alias("minute")
    ).explode("minute", empty_as_null=True)
    duration = (pl.col("end_s") - pl.col("start_s")).cast(pl.Float64)
    lo = pl.max_horizontal(pl.col("start_s"), pl.col("minute") * 60) - pl.col("start_s")
    hi = pl.min_horizontal(pl.col("end_s"), pl.col("minute") * 60 + 60) - pl.col("start_s")
    share = (pl.col("value") * hi / duration).round() - (pl.col("value") * lo / duration).round()
    offset = pl.col("start_off")
    if timezone:
        zone = _zone_offset(timezone)
        offset = (
            pl.when(
                (pl.col("start_off") != pl.col("end_off"))
                & ((zone == pl.col("start_off")) | (zone == pl.col("end_off")))
            )
            .then(zone)
            .otherwise(pl.col("start_off"))
        )
    spread_rows = exploded.select(
        "kind",
        "device",
        "minute",
        pl.when(pl.col("kind") == HEART_RATE)
        .then(pl.col("value"))
        .otherwise(share)
        .alias("amount"),
        offset.alias("offset"),
    )
    return pl.concat([single, spread_rows])


def partial_minutes(records: pl.DataFrame, timezone: str | None) -> pl.DataFrame:
    """Per device, minute and kind: summed amount, sample count and offset (to merge across chunks)."""
    samples = records.filter(pl.col("kind") != RESTING_HEART_RATE)
    return (
        spread(samples, timezone)
        .group_by("device", "minute", "kind")
        .agg(pl.col("amount").sum(), pl.len().cast(pl.UInt32).alias("n"), pl.col("offset").first())
        .with_columns(pl.col("device").cast(pl.Categorical), pl.col("minute").cast(pl.Int32))
    )


def merge_partials(partials: list[pl.DataFrame]) -> pl.DataFrame:
    """Partial minutes of several chunks as one (minutes seen in two chunks added up)."""
    return (
        pl.concat(partials)
        .group_by("device", "minute", "kind")
        .agg(pl.col("amount").sum(), pl.col("n").sum(), pl.col("offset").first())
    )


SLICE_ROWS = 1 << 20
"""Partial-minute rows turned into canonical rows at a time (bounds the work frames beside the output)."""


def minute_table(partials: list[pl.LazyFrame]) -> pa.Table | None:
    """Canonical minute rows (without participant and file ids) from the chunks' partial minutes.

    ``partials`` are in file order (in memory or spilled). The rows are built
    one span of minutes at a time (about ``SLICE_ROWS`` partial rows each):
    each span's partials are gathered from every frame, merged, turned into
    canonical rows and handed to Arrow, so only the output and one span are
    held; the spans are in minute order, so the table is sorted as a whole.
    None when there are no rows.
    """
    if not partials:
        return None
    every = pl.concat(partials, how="vertical")
    rows, first, last = (
        every.select(
            pl.len().alias("rows"),
            pl.col("minute").min().alias("first"),
            pl.col("minute").max().alias("last"),
        )
        .collect()
        .row(0)
    )
    if not rows:
        return None
    spans = max(1, -(-rows // SLICE_ROWS))
    width = (last - first) // spans + 1
    tables = []
    for k in range(spans):
        lo, hi = first + k * width, first + (k + 1) * width
        in_span = (pl.col("minute") >= lo) & (pl.col("minute") < hi)
        part = pl.concat([f.filter(in_span) for f in partials], how="vertical").collect()
        if part.height:
            tables.append(_canonical_rows(merge_partials([part])).to_arrow())
    return pa.concat_tables(tables) if tables else None


def _canonical_rows(merged: pl.DataFrame) -> pl.DataFrame:
    """Canonical minute rows of merged partial minutes, sorted by minute, device and label."""
    is_steps, is_hr = pl.col("kind") == STEPS, pl.col("kind") == HEART_RATE
    data = (
        merged.filter(is_steps | is_hr)
        .group_by("device", "minute")
        .agg(
            pl.col("amount").filter(is_steps).sum().alias("steps_sum"),
            is_steps.any().alias("has_steps"),
            pl.col("amount").filter(is_hr).sum().alias("hr_sum"),
            pl.col("n").filter(is_hr).sum().alias("hr_n"),
            pl.col("offset").sort_by("kind").first().alias("offset"),
        )
        .select(
            "device",
            "minute",
            "offset",
            pl.when(pl.col("has_steps"))
            .then(pl.col("steps_sum").round())
            .cast(pl.Int32)
            .alias("steps"),
            pl.when(pl.col("hr_n") > 0)
            .then(pl.col("hr_sum") / pl.col("hr_n"))
            .cast(pl.Float32)
            .alias("heart_rate_bpm"),
            pl.lit(None, pl.String).alias("intensity"),
            pl.lit(None, pl.Boolean).alias("worn"),
        )
    )
    labels = merged.filter((pl.col("kind") == EXERCISE) & (pl.col("amount") >= 1)).select(
        "device",
        "minute",
        "offset",
        pl.lit(None, pl.Int32).alias("steps"),
        pl.lit(None, pl.Float32).alias("heart_rate_bpm"),
        pl.lit("moderate").alias("intensity"),
        pl.lit(True).alias("worn"),
    )
    return (
        pl.concat([data, labels])
        .sort("minute", "device", "intensity", nulls_last=False)
        .select(
            pl.lit(SOURCE).alias("source"),
            pl.col("device").cast(pl.String),
            pl.from_epoch(pl.col("minute").cast(pl.Int64) * 60, time_unit="s")
            .dt.cast_time_unit("us")
            .dt.replace_time_zone("UTC")
            .alias("minute_utc"),
            pl.col("offset").alias("utc_offset_minutes"),
            "steps",
            "heart_rate_bpm",
            "intensity",
            "worn",
        )
    )


ChunkMinutes = tuple[pl.DataFrame, pl.DataFrame | None, dict[str, int]]
"""One chunk's partial minutes, its resting heart rates (start_s, value, device) and drop counts."""


def chunk_minutes(chunk: pl.DataFrame, escaped: bool, timezone: str | None) -> ChunkMinutes:
    """A chunk of raw records as what the reader gathers from it (the same in a worker process)."""
    records, counts = usable(parse_chunk(chunk, escaped=escaped))
    resting = records.filter(pl.col("kind") == RESTING_HEART_RATE)
    return (
        partial_minutes(records, timezone),
        resting.select("start_s", "value", "device") if resting.height else None,
        counts,
    )
