"""The quarter-hour bit sets that count each minute once across sources.

``combine_quarters`` packs seven per-quarter sets into two words per minute
row and unpacks them after one OR per quarter; these cases pin every field.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from weekly_builders import block, minutes, profiles, roster, utc

from config.study import StudyConfig
from features.classify import METHODS
from features.combine import QUARTER_COLUMNS, combine_quarters

CONFIG = StudyConfig()
PEOPLE = roster([{"participant_id": "w", "timezone": "Europe/Oslo"}])


def bits(*minutes_of_quarter: int) -> int:
    return sum(1 << m for m in minutes_of_quarter)


def combine(*blocks: pl.DataFrame, config: StudyConfig = CONFIG) -> pl.DataFrame:
    got = combine_quarters(minutes(*blocks).lazy(), profiles().lazy(), PEOPLE, config)
    assert got.columns == list(QUARTER_COLUMNS)
    return got.sort("participant_id", "quarter")


def test_watch_and_phone_in_one_quarter_set_each_field() -> None:
    start = utc(2026, 5, 4, 10, 0)  # a quarter boundary
    watch = block(
        "w",
        start,
        4,
        "fit_monitoring",
        intensity="vigorous",
        heart_rate_bpm=150.0,
        utc_offset_minutes=120,
    )
    # the phone overlaps the watch's last two minutes and goes on for three more, with no
    # heart rate, classified moderate by cadence only: moderate minutes are worn whatever the rule
    phone = block(
        "w", utc(2026, 5, 4, 10, 2), 5, "fitbit_takeout", steps=110, utc_offset_minutes=60
    )
    got = combine(watch, phone)
    assert got.height == 1
    row = got.row(0, named=True)
    quarter = int(start.timestamp()) // 900
    assert row["participant_id"] == "w" and row["quarter"] == quarter
    assert row["present_bits"] == bits(0, 1, 2, 3, 4, 5, 6)
    assert row["worn_bits"] == bits(0, 1, 2, 3, 4, 5, 6)
    assert row["classified_bits"] == bits(0, 1, 2, 3, 4, 5, 6)
    assert row["mvpa_bits"] == bits(0, 1, 2, 3, 4, 5, 6)  # vigorous watch, 110 steps/min phone
    assert row["vigorous_bits"] == bits(0, 1, 2, 3)  # minutes 2-3 stay vigorous: highest level wins
    precedence = CONFIG.intensity.source_precedence
    assert row["source_bits"] == (1 << precedence.index("fit_monitoring")) | (
        1 << precedence.index("fitbit_takeout")
    )
    assert row["method_bits"] == (1 << METHODS.index("device")) | (1 << METHODS.index("cadence"))
    assert row["device_offset_minutes"] == 120  # the more trusted source's offset


def test_quarters_split_at_the_fifteenth_minute_and_duplicates_count_once() -> None:
    start = utc(2026, 5, 4, 10, 10)
    walk = block("w", start, 10, intensity="moderate", heart_rate_bpm=100.0)
    got = combine(walk, walk)  # the same file read twice
    assert got["present_bits"].to_list() == [bits(10, 11, 12, 13, 14), bits(0, 1, 2, 3, 4)]
    assert got["vigorous_bits"].to_list() == [0, 0]
    assert got["mvpa_bits"].to_list() == got["present_bits"].to_list()
    assert got["device_offset_minutes"].to_list() == [None, None]
    assert (got["quarter"].diff().drop_nulls() == 1).all()


def test_unlisted_sources_count_after_the_listed_ones() -> None:
    only_watch = StudyConfig.model_validate(
        {"intensity": {"source_precedence": ["fit_monitoring"]}}
    )
    start = utc(2026, 5, 4, 12, 0)
    phone = block("w", start, 3, "fitbit_takeout", steps=150)
    bare = block(
        "w", start, 2, "fit_monitoring", heart_rate_bpm=70.0
    )  # no label, no steps, no METs
    got = combine(phone, bare, config=only_watch)
    row = got.row(0, named=True)
    # the unlisted phone still counts, ranked after the watch: its 150 steps/min classify by cadence
    assert row["present_bits"] == bits(0, 1, 2)
    assert row["worn_bits"] == bits(0, 1, 2)
    assert row["classified_bits"] == bits(0, 1, 2) and row["vigorous_bits"] == bits(0, 1, 2)
    assert row["method_bits"] == 1 << METHODS.index("cadence")
    precedence = only_watch.intensity.source_precedence
    assert row["source_bits"] == (1 << precedence.index("fit_monitoring")) | (
        1 << precedence.index("fitbit_takeout")
    )


def test_sources_beyond_eight_keep_their_own_rank_and_too_many_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import config.study
    from features.combine import SOURCE_SLOTS, TooManySources, check_source_slots

    # Sixteen ranked sources: the eight known ones plus eight a later reader might add.
    extra = tuple(f"future_{i}" for i in range(SOURCE_SLOTS - 8))
    monkeypatch.setattr(config.study, "KNOWN_SOURCES", (*config.study.KNOWN_SOURCES, *extra))
    precedence = list(config.study.KNOWN_SOURCES)
    wide = StudyConfig.model_validate({"intensity": {"source_precedence": precedence}})
    assert len(wide.intensity.source_precedence) == SOURCE_SLOTS
    start = utc(2026, 5, 4, 10, 0)
    last = block("w", start, 3, extra[-1], intensity="moderate", utc_offset_minutes=-600)
    ninth = block("w", start + timedelta(minutes=3), 2, extra[0], intensity="vigorous")
    row = combine(last, ninth, config=wide).row(0, named=True)
    assert row["source_bits"] == (1 << 15) | (1 << 8)  # neither wraps onto a known source's bit
    assert row["mvpa_bits"] == bits(0, 1, 2, 3, 4) and row["vigorous_bits"] == bits(3, 4)
    assert row["device_offset_minutes"] == -600  # rank 8 outranks rank 15, whose offset it is
    # One more than the encoding holds is refused with what to do, not folded onto rank 0.
    with pytest.raises(TooManySources, match=r"ranks 17 sources.*at most 16"):
        check_source_slots([*precedence, "one_too_many"])
