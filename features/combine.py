"""Count each UTC minute once across sources, as quarter-hour bit sets.

A participant wearing a watch and a ring, or whose export holds a monitoring
file and an activity file for the same run, has several rows for one minute.
The rule: a minute's level is the highest level any trusted source gives it,
and it is worn if any trusted source's row is worn under the wear rule. Sources
not listed in ``[intensity] source_precedence`` rank after the listed ones (config/study.py appends them).

Rather than grouping by (participant, minute), which is a hash table with one
entry per minute, rows are grouped by (participant, UTC quarter-hour) and each
minute sets one bit of a 15-bit mask per property (present, worn, classified,
at least moderate, vigorous). Taking the bitwise OR of the rows of a quarter is
exactly "any source, counted once": a duplicated or overlapping row sets a bit
that is already set. Minutes are counted later with a population count.

Why quarter-hours: every UTC offset in use is a multiple of 15 minutes and time
zone transitions happen at quarter-hour instants, so the 15 minutes of a UTC
quarter-hour always share one local date and hour. That makes local days, DST
weeks and the hour-of-day wear map exact after this 15x reduction.

Provenance is kept as small bit sets too: ``source_bits`` (bit i = the i-th
source in the precedence list had rows) and ``method_bits`` (bit i = method
``classify.METHODS[i]`` classified at least one minute). Source precedence also
picks the device UTC offset of a quarter when several sources report one.
"""

from __future__ import annotations

import polars as pl

from config.study import StudyConfig
from features.classify import (
    METHODS,
    MODERATE,
    VIGOROUS,
    classify_minutes,
    heart_rate_limits,
    label_index,
)
from features.plausibility import plausible
from features.wear import with_wear

QUARTER_MINUTES = 15
US_PER_MINUTE = 60_000_000
_OFFSET_BIAS = 2048
"""Shifts UTC offsets (-720..+840 min) to positive numbers for packing with the source rank."""
_WORN, _CLASSIFIED, _MVPA = 15, 30, 45
"""Bit positions of the worn, classified and at-least-moderate masks in a row's ``low`` word."""
_SOURCE, _METHOD = 16, 24
"""Bit positions of the source and method provenance bits in a row's ``high`` word (vigorous mask at 0)."""

RULE_COLUMNS = (
    "participant_id",
    "source",
    "minute_utc",
    "utc_offset_minutes",
    "steps",
    "heart_rate_bpm",
    "intensity",
    "mets",
    "worn",
)
"""The minute columns the weekly rules read."""

QUARTER_COLUMNS = (
    "participant_id",
    "quarter",
    "present_bits",
    "worn_bits",
    "classified_bits",
    "mvpa_bits",
    "vigorous_bits",
    "source_bits",
    "method_bits",
    *(f"{m}_bits" for m in METHODS),
    "device_offset_minutes",
)


def source_rank(config: StudyConfig) -> pl.Expr:
    """Index of ``source`` in the precedence list (0 = most trusted); null when not trusted."""
    return label_index("source", config.intensity.source_precedence, pl.UInt8())


def _minute_rows(
    minutes: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    limits: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """One compact row per trusted minute row: its quarter-hour, packed bit sets and offset key.

    ``low`` packs the
    minute's bit in the present, worn, classified and at-least-moderate masks
    (15 bits each), ``high`` its bit in the vigorous mask plus the source's and
    the method's provenance bits. Packing lets one OR per quarter do the work of
    seven.
    """
    trusted = (
        minutes.select(RULE_COLUMNS)
        .with_columns(source_rank(config).alias("source_rank"))
        .filter(pl.col("source_rank").is_not_null())
        .drop("source")
        .pipe(plausible)
    )
    if limits is None:
        limits = heart_rate_limits(profiles, roster, minutes=trusted)
    classified = classify_minutes(trusted, limits, config)
    minute = pl.col("minute_utc").cast(pl.Int64) // US_PER_MINUTE
    bit = pl.lit(2, pl.UInt64).pow((minute % QUARTER_MINUTES).cast(pl.UInt8))
    level = pl.col("level")

    def flag(condition: pl.Expr, shift: int) -> pl.Expr:
        return condition.fill_null(False).cast(pl.UInt64) * pl.lit(1 << shift, pl.UInt64)

    # A minute classified moderate or vigorous is worn whatever the rule: MVPA never exceeds wear.
    low = bit * (
        pl.lit(1, pl.UInt64)
        + flag(pl.col("worn_by_rule") | (level >= MODERATE), _WORN)
        + flag(level.is_not_null(), _CLASSIFIED)
        + flag(level >= MODERATE, _MVPA)
    )
    method_bit = (
        pl.when(pl.col("method_code").is_not_null())
        .then(pl.lit(2, pl.UInt32).pow(pl.col("method_code") + _METHOD))
        .otherwise(pl.lit(0, pl.UInt32))
    )
    high = (
        bit.cast(pl.UInt32) * flag(level == VIGOROUS, 0).cast(pl.UInt32)
        + pl.lit(2, pl.UInt32).pow(pl.col("source_rank") + _SOURCE)
        + method_bit
    )
    # The minute's bit in method m's 15-bit mask (``by_method``: masks of METHODS in order).
    by_method = (
        pl.when(pl.col("method_code").is_not_null())
        .then(
            bit * pl.lit(2, pl.UInt64).pow(pl.col("method_code").cast(pl.UInt8) * QUARTER_MINUTES)
        )
        .otherwise(pl.lit(0, pl.UInt64))
    )
    offset_key = pl.col("source_rank").cast(pl.Int32) * 4 * _OFFSET_BIAS + (
        pl.col("utc_offset_minutes").cast(pl.Int32) + _OFFSET_BIAS
    )
    return with_wear(classified, config.wear, source="source_rank").select(
        "participant_id",
        (minute // QUARTER_MINUTES).alias("quarter"),
        low.alias("low"),
        high.alias("high"),
        by_method.alias("by_method"),
        offset_key.cast(pl.UInt16).alias("offset_key"),
    )


def combine_quarters(
    minutes: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    limits: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Classify minutes and combine sources into one row per participant and UTC quarter-hour.

    ``quarter`` is the quarter-hour index since the Unix epoch (Int64);
    ``device_offset_minutes`` is the UTC offset the most trusted source reported
    in that quarter (null if none did). ``limits`` is ``heart_rate_limits(...)``;
    without it, limits come from ``profiles`` and ``roster`` (and an estimate
    from the minutes). The quarters are computed in one
    streaming pass over the minute rows and returned materialized: they are
    15 times fewer than the minute rows and are read more than once downstream.
    """
    mask = (1 << QUARTER_MINUTES) - 1

    def field(column: str, shift: int, width: int, dtype: pl.DataType) -> pl.Expr:
        return ((pl.col(column) // (1 << shift)) % (1 << width)).cast(dtype)

    return (
        _minute_rows(minutes, profiles, roster, config, limits)
        .group_by("participant_id", "quarter")
        .agg(
            pl.col("low").bitwise_or(),
            pl.col("high").bitwise_or(),
            pl.col("by_method").bitwise_or(),
            pl.col("offset_key").min(),
        )
        .select(
            "participant_id",
            "quarter",
            field("low", 0, QUARTER_MINUTES, pl.UInt16()).alias("present_bits"),
            field("low", _WORN, QUARTER_MINUTES, pl.UInt16()).alias("worn_bits"),
            field("low", _CLASSIFIED, QUARTER_MINUTES, pl.UInt16()).alias("classified_bits"),
            field("low", _MVPA, QUARTER_MINUTES, pl.UInt16()).alias("mvpa_bits"),
            (pl.col("high") & mask).cast(pl.UInt16).alias("vigorous_bits"),
            field("high", _SOURCE, 8, pl.UInt8()).alias("source_bits"),
            field("high", _METHOD, 8, pl.UInt8()).alias("method_bits"),
            *(
                field("by_method", QUARTER_MINUTES * code, QUARTER_MINUTES, pl.UInt16()).alias(
                    f"{method}_bits"
                )
                for code, method in enumerate(METHODS)
            ),
            (pl.col("offset_key").cast(pl.Int32) % (4 * _OFFSET_BIAS) - _OFFSET_BIAS)
            .cast(pl.Int16)
            .alias("device_offset_minutes"),
        )
        .collect(engine="streaming")
    )


def count_bits(column: str) -> pl.Expr:
    """Minutes set in a quarter mask."""
    return pl.col(column).bitwise_count_ones().cast(pl.Int32)


def moderate_only(mvpa: str = "mvpa_bits", vigorous: str = "vigorous_bits") -> pl.Expr:
    """Minutes whose highest level is moderate: at least moderate and not vigorous."""
    return (pl.col(mvpa) & ~pl.col(vigorous)).bitwise_count_ones().cast(pl.Int32)


def _named_bits(column: str, named_bits: list[tuple[int, str]]) -> pl.Expr:
    """Comma-separated names of the set bits of ``column``, in the given order; null when none is set."""
    parts = [
        pl.when((pl.col(column) & (1 << bit)) != 0).then(pl.lit(name)) for bit, name in named_bits
    ]
    joined = pl.concat_str(parts, separator=",", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined)


def source_names(config: StudyConfig, column: str = "source_bits") -> pl.Expr:
    """The sources of a ``source_bits`` set, in precedence order, e.g. ``"fit_activity,fit_monitoring"``."""
    return _named_bits(column, list(enumerate(config.intensity.source_precedence)))


def method_names(config: StudyConfig, column: str = "method_bits") -> pl.Expr:
    """The methods of a ``method_bits`` set, in the configured order, e.g. ``"device,cadence"``."""
    return _named_bits(column, [(METHODS.index(m), m) for m in config.intensity.methods])
