"""Who has heart rate the heart-rate-reserve method cannot use, and what to add to the roster.

For the run summary, ``irisin check`` and the dashboard: a participant whose
device records heart rate but for whom no maximum heart rate can be had (no
``max_hr`` or ``birth_year`` in the roster, no device profile with a maximum
or an age) is classified by cadence or the device's label only, which the
weekly minutes alone do not show.
"""

from __future__ import annotations

import polars as pl

from features.classify import heart_rate_limits

GAP_COLUMNS: dict[str, pl.DataType] = {
    "participant_id": pl.String(),
    "heart_rate_minutes": pl.Int64(),
    "missing": pl.String(),
    "advice": pl.String(),
}


def heart_rate_gaps(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    heart_rate_minutes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Participants with heart-rate minutes whose heart-rate-reserve parameters are incomplete (``GAP_COLUMNS``).

    ``missing`` is ``max_hr`` (nothing gives a maximum) or ``resting_hr`` (too
    few minutes to estimate one and no device value); ``advice`` says what to
    add to ``roster.csv``. ``heart_rate_minutes``: the count per participant
    (``features.utc_hours.heart_rate_minutes``) when already known, so
    ``minutes`` is read only for a resting HR that must be estimated.
    """
    with_hr = (
        heart_rate_minutes.lazy()
        if heart_rate_minutes is not None
        else minutes.filter(pl.col("heart_rate_bpm").is_between(20, 220))
        .group_by("participant_id")
        .agg(pl.len().alias("heart_rate_minutes"))
    ).with_columns(pl.col("heart_rate_minutes").cast(pl.Int64))
    limits = heart_rate_limits(profiles, roster, daily_totals, minutes)
    joined = with_hr.join(limits, on="participant_id", how="left").collect()
    no_max = pl.col("max_hr").is_null() & pl.col("tanaka_intercept_bpm").is_null()
    no_rest = pl.col("resting_hr").is_null()
    return (
        joined.filter(no_max | no_rest)
        .with_columns(
            pl.when(no_max).then(pl.lit("max_hr")).otherwise(pl.lit("resting_hr")).alias("missing"),
            pl.when(no_max)
            .then(
                pl.format(
                    "{}: heart rate recorded but no maximum heart rate: add birth_year (or max_hr) to roster.csv",
                    "participant_id",
                )
            )
            .otherwise(
                pl.format(
                    "{}: heart rate recorded but no resting heart rate: add resting_hr to roster.csv",
                    "participant_id",
                )
            )
            .alias("advice"),
        )
        .select(pl.col(n).cast(t) for n, t in GAP_COLUMNS.items())
        .sort("participant_id")
    )
