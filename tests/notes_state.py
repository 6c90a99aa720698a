"""Check shared by the nightly and forget tests: what derive keeps for the data-quality notes is current."""

from __future__ import annotations

from pathlib import Path

from polars.testing import assert_frame_equal


def assert_notes_state_matches_lake(root: Path) -> None:
    """The UTC-hour totals derive kept, the notes it wrote and the last heart-rate days they give
    equal a fresh pass over the whole lake."""
    from config import open_study
    from pipeline.jobs import UTC_HOURS, _derive_state, derived_of
    from pipeline.summary import last_heart_rate_of
    from pipeline.validity import NOTES_TABLE, data_notes_table, utc_hours_of

    study = open_study(root)
    kept = _derive_state(study).read(UTC_HOURS)
    assert kept is not None, "derive keeps the UTC-hour totals"
    assert_frame_equal(kept, utc_hours_of(study))
    notes = derived_of(study).read(NOTES_TABLE)
    assert notes is not None
    assert_frame_equal(notes, data_notes_table(study))
    last = last_heart_rate_of(study, kept).sort("participant_id")
    assert_frame_equal(last, last_heart_rate_of(study).sort("participant_id"))
