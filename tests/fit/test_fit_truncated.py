"""A truncated FIT activity keeps exactly the rows before the damage (issue 15 item 3).

Watches write the ``sport`` message near the start of an activity file and
the ``session`` (which also names the sport) at the end. A file cut short
loses its session; before the fix every minute it kept had its steps blank
(cadence of an unknown sport is not steps), so the rows before the cut
differed from the intact file's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from ingest.contract import ReadContext
from ingest.fit.reader import read_fit
from pipeline.demo.fit_files import activity_bytes
from tests.fitbit.helpers import worn_truth

CTX = ReadContext(participant_id="P01", file_id="f" * 64, path="run.fit", timezone="UTC")


def _minutes(data: bytes) -> pl.DataFrame:
    frame = pl.from_arrow(read_fit(data, CTX).tables["minutes"])
    assert isinstance(frame, pl.DataFrame)
    return frame


def test_a_run_cut_short_before_its_session_keeps_its_steps() -> None:
    truth = worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(9, 10), seed=4)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    data = activity_bytes(truth, start, start + timedelta(minutes=30), "running")
    intact = _minutes(data)
    cut = read_fit(data[: len(data) // 2], CTX)

    assert cut.status == "partial"
    kept = _minutes(data[: len(data) // 2])
    whole = kept.filter(pl.col("minute_utc") < kept["minute_utc"].max())  # the last minute is cut
    assert whole.height >= 13
    assert whole["steps"].null_count() == 0
    assert whole.equals(intact.head(whole.height))
    assert whole["steps"].to_list() == intact["steps"].head(whole.height).to_list()


def test_without_a_sport_message_or_session_cadence_is_not_steps() -> None:
    truth = worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(9, 10), seed=4)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    data = activity_bytes(truth, start, start + timedelta(minutes=30), "cycling")
    kept = _minutes(data[: len(data) // 2])
    assert kept.height >= 13
    assert kept["steps"].null_count() == kept.height  # cycling cadence is pedal turns
    assert kept["heart_rate_bpm"].null_count() == 0
