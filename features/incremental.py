"""Recompute only the participant-weeks that newly ingested rows touch.

A nightly run ingests a few files; their rows can only change the weeks they
fall in. ``touched_weeks`` names those weeks from the new rows alone;
derive recomputes them (``week_tables(..., only=touched)`` reads just the rows
within reach of those weeks) and ``replace_weeks`` merges them into the
existing table, the one weekly merge. The result equals a full recompute as long as the
roster, the device profiles and the study configuration are unchanged; when
any of those changes (``config_hash`` differs), recompute everything.
"""

from __future__ import annotations

import polars as pl

from config.study import StudyConfig
from features.combine import QUARTER_MINUTES, US_PER_MINUTE, source_rank
from features.local_time import localize_quarters, week_start_for_dates
from features.scope import ONLY_COLUMNS


def touched_weeks(
    minutes: pl.LazyFrame, daily_totals: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.DataFrame:
    """Distinct ``participant_id, week_start`` of the local weeks that ``minutes`` and ``daily_totals`` fall in.

    Rows of untrusted sources touch nothing. With ``use_device_offsets`` the
    new rows' own offsets place them; if an older, more trusted source
    reported a different offset for the same quarter-hour (a clock fault),
    that week is only corrected by a full recompute.
    """
    quarters = (
        minutes.filter(source_rank(config).is_not_null())
        .select(
            "participant_id",
            (pl.col("minute_utc").cast(pl.Int64) // (US_PER_MINUTE * QUARTER_MINUTES)).alias(
                "quarter"
            ),
            pl.col("utc_offset_minutes").alias("device_offset_minutes"),
        )
        .unique()
    )
    from_minutes = localize_quarters(quarters, roster, config).select(ONLY_COLUMNS)
    from_totals = week_start_for_dates(
        daily_totals.filter(source_rank(config).is_not_null()).select(
            "participant_id", "local_date"
        ),
        roster,
        config,
    ).select(ONLY_COLUMNS)
    return pl.concat([from_minutes, from_totals]).unique().sort(ONLY_COLUMNS).collect()


def replace_weeks(
    existing: pl.DataFrame, recomputed: pl.DataFrame, touched: pl.DataFrame
) -> pl.DataFrame:
    """``existing`` without the touched weeks, plus the recomputed rows, sorted.

    A touched week that no longer has data (e.g. rows were withdrawn) disappears.
    """
    keys = touched.select(ONLY_COLUMNS).unique()
    kept = existing.join(keys, on=list(ONLY_COLUMNS), how="anti")
    return pl.concat([kept, recomputed.select(existing.columns)], how="vertical_relaxed").sort(
        ONLY_COLUMNS
    )
