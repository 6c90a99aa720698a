"""Data-quality notes a coordinator must see: heart rate the method cannot use (and later, zone checks).

The I/O edge for ``models.heart_rate``: reads the study's lake and returns
plain lines, so ``irisin check``, the run summary and the dashboard say the
same thing.
"""

from __future__ import annotations

import polars as pl

from config import Study


def heart_rate_gaps_of(study: Study) -> pl.DataFrame:
    """``models.heart_rate.heart_rate_gaps`` over the study's lake and roster."""
    from irisin.jobs import lake_of
    from models.heart_rate import heart_rate_gaps

    lake = lake_of(study)
    return heart_rate_gaps(
        lake.scan("minutes").select("participant_id", "minute_utc", "heart_rate_bpm"),
        lake.scan("daily_totals"),
        lake.scan("profiles"),
        study.roster,
    )


def data_quality_notes(study: Study) -> list[str]:
    """One line per participant whose data cannot be used fully, with what to change."""
    return heart_rate_gaps_of(study)["advice"].to_list()
