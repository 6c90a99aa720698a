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
    # What each device reports: a step-only device's nightstand zeros too (not worn by the step
    # rule); a device-profile participant's FIT files carry no label for active minutes.
    reported = {
        p.participant_id: demo.device_minutes(p, truths[p.participant_id]).with_columns(
            pl.when(p.roster_hr_params | (pl.col("intensity") == "sedentary"))
            .then(pl.col("intensity"))
            .alias("intensity")
        )
        for p in cohort
    }
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
            for pid, t in reported.items()
        ]
    )
    people = roster(
        [
            {
                "participant_id": p.participant_id,
                "timezone": p.roster_zone,
                **(
                    {
                        "birth_year": p.birth_year,
                        "resting_hr": float(p.resting_hr),
                        "max_hr": float(p.max_hr),
                    }
                    if p.roster_hr_params
                    else {}
                ),
            }
            for p in cohort
        ]
    )
    device_profiles = profiles(
        [
            {
                "participant_id": p.participant_id,
                "observed_utc": truths[p.participant_id]["minute_utc"].min(),
                "resting_heart_rate_bpm": float(p.resting_hr),
                "max_heart_rate_bpm": float(p.max_hr),
            }
            for p in cohort
            if not p.roster_hr_params
        ]
    )
    config = StudyConfig()
    got = with_status(
        weekly_table(
            mins.lazy(),
            daily_totals([]).lazy(),
            device_profiles.lazy(),
            people,
            config,
            config_hash="demo",
        ),
        config,
    )
    expected = truth_module.expected_weekly(truths, cohort)
    assert set(expected["status"]) == {"met", "below", "insufficient"}
    hr_params = got.group_by("participant_id").agg(pl.col("hr_params").unique())
    assert dict(hr_params.rows())["P15"] == ["device"]
    assert dict(hr_params.rows())["P14"] == ["none"]
    assert_frame_equal(got.select(expected.columns), expected, check_dtypes=False)
