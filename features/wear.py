"""Wear rules: when a minute counts as worn (``[wear] rule``).

``auto`` (the default)
    chosen per source and UTC day. Where the source recorded any heart rate that
    day, a minute is worn when it has a heart rate (optical heart rate is only
    measured on skin, so a strap taken off for four hours is four hours off).
    Where it recorded none (a step-only device, a phone, a Fitabase export
    without heart rate), the step-based non-wear rule below decides.
``heart_rate_present``
    the minute has a positive heart rate, whatever the device.
``heart_rate_or_steps``
    a positive heart rate or at least one step. Steps of zero are not evidence of
    non-wear (a worn device at rest counts none), but neither are they evidence of
    wear, so a minute with zero steps and no heart rate is not worn.
``device``
    the source's own wear flag (``worn``); where a source reports no flag for the
    minute, the ``heart_rate_present`` rule decides.
``steps``
    the step-based non-wear rule for every source.

The step-based rule is Choi et al.'s (2011, *Med Sci Sports Exerc* 43:357-364)
accelerometer non-wear algorithm applied to step counts, as done for
step-only wrist devices: a run of at least ``step_nonwear_minutes`` (90)
minutes of zero steps is non-wear, and may contain interruptions of up to
``step_interruption_minutes`` (2) minutes with steps when at least
``step_interruption_window_minutes`` (30) minutes of zeros lie on each side.
Every other minute with a step count is worn; a minute the source reported
without any step count (e.g. a separate intensity file) is not. A run is
measured in clock time from its first to its last zero minute, so minutes
missing from the source inside a run count as zeros; a device that reports a
day of only zeros was not worn that day. Under ``auto`` the step rule sees
only the source's step-rule days, so a run may continue across a heart-rate
day of the same source.

Where the rules run: ``features.combine`` reduces the minute rows to one row
per participant, source and UTC quarter-hour holding 15-bit sets (heart rate
present, steps above zero, steps of zero; see there). ``auto``'s per-day choice
is an OR over a day's 96 quarters, and the step rule expands only the
step-rule quarters back to minutes, already in order, so no minute row is
joined or sorted (``step_worn_bits``). Per-row rules are decided on each
minute row (``worn``).

Whatever the rule, a minute classified moderate or vigorous is worn (MVPA
can never exceed wear); ``features.combine`` applies that after classifying.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from config.study import WearSection

QUARTER_MINUTES = 15


def heart_rate_present() -> pl.Expr:
    return pl.col("heart_rate_bpm").fill_null(0) > 0


def heart_rate_or_steps() -> pl.Expr:
    return heart_rate_present() | (pl.col("steps").fill_null(0) > 0)


def device_flag() -> pl.Expr:
    return pl.col("worn").fill_null(heart_rate_present())


WEAR_RULES: dict[str, Callable[[], pl.Expr]] = {
    "heart_rate_present": heart_rate_present,
    "heart_rate_or_steps": heart_rate_or_steps,
    "device": device_flag,
}
"""The rules a single minute row decides on its own."""

FRAME_RULES = ("auto", "steps")
"""The rules that need a source's neighbouring minutes (the step-based non-wear rule)."""


def worn(rule: str) -> pl.Expr:
    """Boolean (never null) expression of a per-row rule: the minute row counts as worn under ``rule``."""
    return WEAR_RULES[rule]().alias("worn_by_rule")


def row_rule(rule: str) -> pl.Expr:
    """What each minute row contributes to its quarter's rule bits.

    For a per-row rule, the rule itself; for ``auto`` and ``steps``, heart rate
    present (``auto`` uses it on heart-rate days; the step rule reads the step bits).
    """
    return worn(rule) if rule in WEAR_RULES else heart_rate_present()


def step_runs(minutes: pl.DataFrame, wear: WearSection) -> pl.Series:
    """Per row of ``minutes``, whether Choi 2011 on steps calls it worn (Boolean).

    ``minutes`` has ``key`` (an integer per participant and source), ``minute``
    (minutes since the Unix epoch) and ``zero`` (the minute's step count is
    zero), one row per minute that has a step count, sorted by key and minute.
    Runs of equal ``zero`` are numbered in order, so each minute finds its
    run's verdict by position rather than by a join.
    """
    same_key = (pl.col("key") == pl.col("key").shift(1)).fill_null(False)
    run = (
        minutes.select(
            ((pl.col("zero") != pl.col("zero").shift(1)).fill_null(True) | ~same_key)
            .cum_sum()
            .cast(pl.Int64)
            .alias("run")
        )
        .to_series()
        .set_sorted()
    )
    last_of_run = (run != run.shift(-1)).fill_null(True)
    # One row per run: its key, class, first and last minute (runs are consecutive rows).
    first_minute = minutes.filter((run != run.shift(1)).fill_null(True))["minute"]
    runs = (
        minutes.filter(last_of_run)
        .select("key", "zero", pl.col("minute").alias("last"))
        .with_columns(first_minute.alias("first"))
        .with_columns((pl.col("last") - pl.col("first") + 1).alias("span"))
    )

    def neighbour(shift: int) -> pl.Expr:
        same = (pl.col("key") == pl.col("key").shift(shift)).fill_null(False)
        return (
            same
            & pl.col("zero").shift(shift).fill_null(False)
            & (pl.col("span").shift(shift).fill_null(0) >= wear.step_interruption_window_minutes)
        )

    quiet = pl.col("zero") | (
        (pl.col("span") <= wear.step_interruption_minutes) & neighbour(1) & neighbour(-1)
    )
    same_prev = (pl.col("key") == pl.col("key").shift(1)).fill_null(False)
    # A segment is a stretch of consecutive quiet runs of one key, in minute order, so it
    # spans from its first run's first minute to its last run's last minute. Filling those
    # from the segment's ends is linear; a window per segment hashed millions of one-run
    # segments (3.1 of 5.0 s on 39 M phone minutes, bench.weekly 1,000 x 90 days).
    segment = pl.col("segment")
    starts = (segment != segment.shift(1)).fill_null(True)
    ends = (segment != segment.shift(-1)).fill_null(True)
    segment_span = (
        pl.when(ends).then(pl.col("last")).backward_fill()
        - pl.when(starts).then(pl.col("first")).forward_fill()
        + 1
    )
    verdict = (
        runs.with_columns(quiet.alias("quiet"))
        .with_columns(
            (~(pl.col("quiet") & pl.col("quiet").shift(1).fill_null(False) & same_prev))
            .cum_sum()
            .alias("segment")
        )
        .select(~(pl.col("quiet") & (segment_span >= wear.step_nonwear_minutes)))
        .to_series()
    )
    return verdict.gather(run - 1).alias("step_worn")


def step_worn_bits(quarters: pl.DataFrame, wear: WearSection) -> pl.Series:
    """Per quarter row, the 15-bit set of minutes the step rule calls worn (UInt16, in row order).

    ``quarters`` has ``participant_id``, ``source_rank``, ``quarter``,
    ``steps_bits`` (minutes with at least one step) and ``zero_bits`` (minutes
    with a step count of zero and none above it), one row per participant,
    source and quarter-hour. Only these rows are expanded to minutes, and
    they are sorted first, so runs are found without sorting minute rows.
    """
    out = pl.zeros(quarters.height, pl.UInt16, eager=True).alias("step_worn_bits")
    ordered = (
        quarters.with_row_index("row")
        .filter((pl.col("steps_bits") | pl.col("zero_bits")) != 0)
        .sort("participant_id", "source_rank", "quarter")
    )
    if ordered.height == 0:
        return out
    new_key = (pl.col("participant_id") != pl.col("participant_id").shift(1)) | (
        pl.col("source_rank") != pl.col("source_rank").shift(1)
    )
    reported = pl.col("steps_bits") | pl.col("zero_bits")
    position = pl.int_ranges(0, QUARTER_MINUTES, dtype=pl.UInt16).alias("position")
    expanded = (
        ordered.lazy()
        .with_columns(
            new_key.fill_null(True).cum_sum().alias("key"),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("index"),
        )
        .select("index", "key", "quarter", reported.alias("reported"), "zero_bits", position)
        .explode("position", empty_as_null=True)
        .with_columns(pl.lit(2, pl.UInt16).pow(pl.col("position")).cast(pl.UInt16).alias("bit"))
        .filter((pl.col("reported") & pl.col("bit")) != 0)
        .select(
            "index",
            "key",
            "bit",
            (pl.col("quarter") * QUARTER_MINUTES + pl.col("position")).alias("minute"),
            ((pl.col("zero_bits") & pl.col("bit")) != 0).alias("zero"),
        )
        .collect()
    )
    worn = step_runs(expanded, wear)
    # Rows are in quarter order: a quarter's bits are the difference of a running sum at its last row.
    total = (expanded["bit"].cast(pl.UInt64) * worn.cast(pl.UInt64)).cum_sum()
    index = expanded["index"]
    last = (index != index.shift(-1)).fill_null(True)
    ends = total.filter(last)
    bits = (ends - ends.shift(1).fill_null(0)).cast(pl.UInt16)
    rows = ordered["row"].gather(index.filter(last))
    return out.scatter(rows, bits)
