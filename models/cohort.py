"""Per cohort and week: the share of participants meeting the threshold, with a Wilson 95 % interval.

The denominator is the participants with sufficient data that week (status
``met`` or ``below``); insufficient weeks are left out rather than counted as
not meeting the hour. The Wilson score interval behaves well for small
cohorts and shares near 0 or 1, where the normal approximation fails.
"""

from __future__ import annotations

from statistics import NormalDist

import polars as pl

COHORT_COLUMNS: dict[str, pl.DataType] = {
    "week_start": pl.Date(),
    "participants": pl.Int32(),
    "sufficient": pl.Int32(),
    "met": pl.Int32(),
    "share_met": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
}

CONFIDENCE = 0.95


def wilson_interval(
    successes: pl.Expr, trials: pl.Expr, confidence: float = CONFIDENCE
) -> tuple[pl.Expr, pl.Expr]:
    """Lower and upper Wilson score bounds of ``successes / trials``; null where ``trials`` is 0."""
    z = NormalDist().inv_cdf(
        0.5 + confidence / 2
    )  # the standard library's, so scoring does not import scipy
    n = trials.cast(pl.Float64)
    p = successes.cast(pl.Float64) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt()
    valid = trials > 0
    return (
        pl.when(valid).then((centre - half).clip(0.0, 1.0)),
        pl.when(valid).then((centre + half).clip(0.0, 1.0)),
    )


def cohort_weekly(weekly: pl.DataFrame) -> pl.DataFrame:
    """One row per week of a scored ``weekly`` table (``COHORT_COLUMNS``), sorted by week.

    The status is the one the table carries (derive scores each week once);
    a what-if threshold is ``cohort_weekly(with_status(weekly, other_config))``.
    """
    counts = weekly.group_by("week_start").agg(
        pl.col("participant_id").n_unique().alias("participants"),
        (pl.col("status") != "insufficient").sum().alias("sufficient"),
        (pl.col("status") == "met").sum().alias("met"),
    )
    low, high = wilson_interval(pl.col("met"), pl.col("sufficient"))
    return (
        counts.with_columns(
            pl.when(pl.col("sufficient") > 0)
            .then(pl.col("met") / pl.col("sufficient"))
            .alias("share_met"),
            low.alias("ci_low"),
            high.alias("ci_high"),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in COHORT_COLUMNS.items())
        .sort("week_start")
    )
