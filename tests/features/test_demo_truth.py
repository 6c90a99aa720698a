"""The demo cohort's truth minutes, fed to the weekly core, give the generator's expected weekly table.

This checks the core against ``pipeline.demo.truth.expected_weekly``, arithmetic
written independently of ``features/``. (Reading the demo's device files back
through ingest is the pipeline's end-to-end test.)
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from weekly_builders import FILE_ID, MINUTE_TYPES, daily_totals, profiles, roster

from config.study import StudyConfig

demo = pytest.importorskip("pipeline.demo.cohort", reason="demo generator not available")
truth_module = pytest.importorskip("pipeline.demo.truth", reason="demo truth not available")
generate = pytest.importorskip("pipeline.demo.generate", reason="demo generator not available")

from features.weekly import weekly_table  # noqa: E402
from models.weekly_status import with_status  # noqa: E402


def test_demo_truth_weekly_table() -> None:
    cohort = demo.COHORT
    truths = {p.participant_id: demo.truth_minutes(p, generate.DEFAULT_SEED) for p in cohort}
    mins = pl.concat(
        [
            t.with_columns(
                pl.lit(pid).alias("participant_id"),
                pl.lit("fit_monitoring").alias("source"),
                pl.lit(FILE_ID).alias("file_id"),
            ).select(
                (
                    pl.col(c)
                    if c in t.columns or c in ("participant_id", "source", "file_id")
                    else pl.lit(None)
                )
                .cast(ty)
                .alias(c)
                for c, ty in MINUTE_TYPES.items()
            )
            for pid, t in truths.items()
        ]
    )
    people = roster(
        [
            {
                "participant_id": p.participant_id,
                "timezone": p.roster_zone,
                "birth_year": p.birth_year,
                "resting_hr": float(p.resting_hr),
                "max_hr": float(p.max_hr),
            }
            for p in cohort
        ]
    )
    config = StudyConfig()
    got = with_status(
        weekly_table(
            mins.lazy(),
            daily_totals([]).lazy(),
            profiles().lazy(),
            people,
            config,
            config_hash="demo",
        ),
        config,
    )
    expected = truth_module.expected_weekly(truths, cohort)
    assert set(expected["status"]) == {"met", "below", "insufficient"}
    assert_frame_equal(got.select(expected.columns), expected, check_dtypes=False)
