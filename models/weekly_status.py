"""A week's status against the one-hour threshold: met, below or insufficient.

Sufficiency comes first: a week with fewer than ``[wear] min_valid_days_per_week``
valid days is ``insufficient`` whatever its minutes, so it is never ``below``
for lack of wear, and ``met`` always means "enough wear to know, and at least
``[scoring] threshold_minutes_per_week`` minutes". This keeps "weeks met out of
sufficient weeks" a proper share.
"""

from __future__ import annotations

import polars as pl

from config.schema import WEEKLY
from config.study import StudyConfig

WEEKLY_ORDER: tuple[str, ...] = tuple(WEEKLY.names)


def week_status(
    config: StudyConfig, mvpa: str = "mvpa_minutes", valid_days: str = "valid_days"
) -> pl.Expr:
    """``met`` / ``below`` / ``insufficient`` for each weekly row."""
    return (
        pl.when(pl.col(valid_days) < config.wear.min_valid_days_per_week)
        .then(pl.lit("insufficient"))
        .when(pl.col(mvpa) >= config.scoring.threshold_minutes_per_week)
        .then(pl.lit("met"))
        .otherwise(pl.lit("below"))
        .alias("status")
    )


def with_status(weekly: pl.DataFrame, config: StudyConfig) -> pl.DataFrame:
    """The weekly table: ``features``' weekly frame with ``status`` under ``config``, in ``WEEKLY`` order.

    Also recomputes the status of a stored weekly table (e.g. under another threshold).
    """
    scored = weekly.with_columns(week_status(config))
    if set(WEEKLY_ORDER) <= set(scored.columns):
        return scored.select(WEEKLY_ORDER)
    return scored
