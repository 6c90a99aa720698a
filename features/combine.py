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

from collections.abc import Sequence

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
from features.wear import WEAR_RULES, row_rule, step_worn_bits

QUARTER_MINUTES = 15
QUARTERS_PER_DAY = 96
US_PER_MINUTE = 60_000_000
_OFFSET_BIAS = 2048
"""Shifts UTC offsets (-720..+840 min) to positive numbers for packing with the source rank."""
_RULE, _CLASSIFIED, _MVPA = 15, 30, 45
"""Bit positions of the wear-rule, classified and at-least-moderate masks in a row's ``low`` word."""
_STEPS, _ZERO, _METHOD = 15, 30, 60
"""Bit positions of the steps-above-zero and steps-of-zero masks and the method bits in ``high``
(vigorous mask at 0)."""
_SOURCE = 16
"""Bit position of the source provenance bits in a combined quarter's ``high`` word."""
SOURCE_SLOTS = 16
"""Sources the encoding can tell apart: ``source_bits`` is 16 bits wide (UInt16), a source
quarter key is ``quarter * 16 + rank`` and an offset key ``rank * 8192 + offset`` (UInt32). The
combined ``high`` word holds them at bits 16-31, clear of the vigorous mask (0-14) and the
method bits (60-63). Eight sources are known today; ``check_source_slots`` refuses a
precedence list longer than this instead of letting ranks collide."""
_OFFSET_SPAN = 4 * _OFFSET_BIAS
"""Room per source rank in an offset key: every biased UTC offset is below it."""


class TooManySources(ValueError):
    """More sources rank in ``[intensity] source_precedence`` than the quarter encoding has slots."""


def check_source_slots(precedence: Sequence[str]) -> None:
    """Raise ``TooManySources`` when ``precedence`` needs more than ``SOURCE_SLOTS`` ranks.

    With more, two sources would share a rank: the quarter key, the offset
    choice and ``source_bits`` would mix them silently. The message says what
    to change.
    """
    if len(precedence) > SOURCE_SLOTS:
        raise TooManySources(
            f"[intensity] source_precedence ranks {len(precedence)} sources, but the weekly "
            f"core tells at most {SOURCE_SLOTS} apart (features.combine.SOURCE_SLOTS): "
            "widen the encoding there before adding a source"
        )


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
    """One compact row per trusted minute row: its source quarter-hour, packed bit sets and offset key.

    ``source_quarter`` is ``quarter * SOURCE_SLOTS + source_rank``. ``low`` packs the
    minute's bit in the present, wear-rule, classified and at-least-moderate
    masks (15 bits each), ``high`` its bit in the vigorous, steps-above-zero
    and steps-of-zero masks plus the method's provenance bit. Packing lets one
    OR per source quarter do the work of nine.
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
    classified = classify_minutes(trusted, limits, config, keep_order=False)
    minute = pl.col("minute_utc").cast(pl.Int64) // US_PER_MINUTE
    bit = pl.lit(2, pl.UInt64).pow((minute % QUARTER_MINUTES).cast(pl.UInt8))
    level = pl.col("level")
    steps = pl.col("steps")

    def flag(condition: pl.Expr, shift: int) -> pl.Expr:
        return condition.fill_null(False).cast(pl.UInt64) * pl.lit(1 << shift, pl.UInt64)

    low = bit * (
        pl.lit(1, pl.UInt64)
        + flag(row_rule(config.wear.rule), _RULE)
        + flag(level.is_not_null(), _CLASSIFIED)
        + flag(level >= MODERATE, _MVPA)
    )
    method_bit = (
        pl.when(pl.col("method_code").is_not_null())
        .then(pl.lit(2, pl.UInt64).pow(pl.col("method_code") + _METHOD))
        .otherwise(pl.lit(0, pl.UInt64))
    )
    high = (
        bit * (flag(level == VIGOROUS, 0) + flag(steps > 0, _STEPS) + flag(steps == 0, _ZERO))
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
    offset_key = pl.col("source_rank").cast(pl.Int32) * _OFFSET_SPAN + (
        pl.col("utc_offset_minutes").cast(pl.Int32) + _OFFSET_BIAS
    )
    return classified.select(
        "participant_id",
        ((minute // QUARTER_MINUTES) * SOURCE_SLOTS + pl.col("source_rank").cast(pl.Int64)).alias(
            "source_quarter"
        ),
        low.alias("low"),
        high.alias("high"),
        by_method.alias("by_method"),
        offset_key.cast(pl.UInt32).alias("offset_key"),
    )


def _field(column: str, shift: int, width: int, dtype: pl.DataType) -> pl.Expr:
    return ((pl.col(column) // (1 << shift)) % (1 << width)).cast(dtype)


def source_quarters(
    minutes: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    limits: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """One row per participant, trusted source and UTC quarter-hour, with ``worn_bits`` under the wear rule.

    The one pass over the minute rows (streaming): classify, then OR each
    source quarter's rows. The wear rule is then decided on these rows, 15
    times fewer than the minute rows (``features.wear``): ``auto`` picks heart
    rate or steps per source and UTC day, and the step rule expands only its
    own quarters back to minutes. A moderate or vigorous minute is worn
    whatever the rule: MVPA never exceeds wear.
    """
    check_source_slots(config.intensity.source_precedence)
    rows = (
        _minute_rows(minutes, profiles, roster, config, limits)
        .group_by("participant_id", "source_quarter")
        .agg(
            pl.col("low").bitwise_or(),
            pl.col("high").bitwise_or(),
            pl.col("by_method").bitwise_or(),
            pl.col("offset_key").min(),
        )
        .collect(engine="streaming")
    )
    quarter = (pl.col("source_quarter") // SOURCE_SLOTS).alias("quarter")
    rank = (pl.col("source_quarter") % SOURCE_SLOTS).cast(pl.UInt8).alias("source_rank")
    rule_bits = _field("low", _RULE, QUARTER_MINUTES, pl.UInt16())
    mvpa_bits = _field("low", _MVPA, QUARTER_MINUTES, pl.UInt16())
    rule = config.wear.rule
    if rule in WEAR_RULES:
        return rows.with_columns(quarter, rank, (rule_bits | mvpa_bits).alias("worn_bits"))
    rows = rows.with_columns(quarter, rank)
    if rule == "auto":
        day = (pl.col("source_quarter") // (QUARTERS_PER_DAY * SOURCE_SLOTS)) * SOURCE_SLOTS + (
            pl.col("source_quarter") % SOURCE_SLOTS
        )
        heart_day = (rule_bits != 0).any().over("participant_id", day)
    else:
        heart_day = pl.lit(False)
    rows = rows.with_columns(heart_day.alias("heart_day"))
    step_days = rows.filter(~pl.col("heart_day")).select(
        "participant_id",
        "source_rank",
        "quarter",
        _field("high", _STEPS, QUARTER_MINUTES, pl.UInt16()).alias("steps_bits"),
        _field("high", _ZERO, QUARTER_MINUTES, pl.UInt16()).alias("zero_bits"),
    )
    by_steps = step_worn_bits(step_days, config.wear)
    worn_bits = pl.zeros(rows.height, pl.UInt16, eager=True).scatter(
        rows.select(pl.arg_where(~pl.col("heart_day"))).to_series(), by_steps
    )
    return rows.with_columns(
        (pl.when(pl.col("heart_day")).then(rule_bits).otherwise(worn_bits) | mvpa_bits).alias(
            "worn_bits"
        )
    ).drop("heart_day")


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
    from the minutes). The minute rows are read in one streaming pass
    (``source_quarters``); sources are then combined by OR-ing their quarter
    rows, and the result is returned materialized: it is 15 times smaller
    than the minute rows and is read more than once downstream.
    """
    mask = (1 << QUARTER_MINUTES) - 1
    per_source = source_quarters(minutes, profiles, roster, config, limits=limits)
    # Re-packed so that one OR per quarter combines every field: present and
    # worn (low), vigorous and the source and method bits (high).
    low = (
        pl.col("low") % (1 << QUARTER_MINUTES)
        + pl.col("worn_bits").cast(pl.UInt64) * (1 << _RULE)
        + (pl.col("low") // (1 << _CLASSIFIED)) * (1 << _CLASSIFIED)
    ).alias("low")
    high = (
        pl.col("high") % (1 << QUARTER_MINUTES)
        + pl.lit(2, pl.UInt64).pow(pl.col("source_rank") + _SOURCE)
        + (pl.col("high") // (1 << _METHOD)) * (1 << _METHOD)
    ).alias("high")
    return (
        per_source.lazy()
        .select("participant_id", "quarter", low, high, "by_method", "offset_key")
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
            _field("low", 0, QUARTER_MINUTES, pl.UInt16()).alias("present_bits"),
            _field("low", _RULE, QUARTER_MINUTES, pl.UInt16()).alias("worn_bits"),
            _field("low", _CLASSIFIED, QUARTER_MINUTES, pl.UInt16()).alias("classified_bits"),
            _field("low", _MVPA, QUARTER_MINUTES, pl.UInt16()).alias("mvpa_bits"),
            (pl.col("high") & mask).cast(pl.UInt16).alias("vigorous_bits"),
            _field("high", _SOURCE, SOURCE_SLOTS, pl.UInt16()).alias("source_bits"),
            _field("high", _METHOD, len(METHODS), pl.UInt8()).alias("method_bits"),
            *(
                _field("by_method", QUARTER_MINUTES * code, QUARTER_MINUTES, pl.UInt16()).alias(
                    f"{method}_bits"
                )
                for code, method in enumerate(METHODS)
            ),
            (pl.col("offset_key").cast(pl.Int32) % _OFFSET_SPAN - _OFFSET_BIAS)
            .cast(pl.Int16)
            .alias("device_offset_minutes"),
        )
        # The in-memory engine ORs per group (0.63 s CPU on 0.7 M rows against 0.09 s streaming).
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
