"""Whole-lake answers of a run summary are kept until the lake or the study's inputs change."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from bench.lake_compaction import day_batch
from config.layout import init_study, open_study
from pipeline.jobs import lake_of
from pipeline.lake_cache import LakeCache


def counting(answer: pl.DataFrame, calls: list[int]) -> pl.DataFrame:
    calls.append(1)
    return answer


def test_an_answer_is_reused_until_a_batch_lands_or_the_roster_changes(tmp_path: Path) -> None:
    study = init_study(tmp_path / "study")
    lake = lake_of(study)
    lake.write_batch(day_batch("P01", date(2026, 3, 2)))
    calls: list[int] = []
    first = pl.DataFrame({"participant_id": ["P01"], "n": [1]})

    assert LakeCache(study, lake).get("answer", lambda: counting(first, calls)).equals(first)
    again = LakeCache(study, lake_of(study)).get("answer", lambda: counting(first, calls))
    assert again.equals(first) and len(calls) == 1, "the same lake: the stored answer, not computed"

    lake.write_batch(day_batch("P01", date(2026, 3, 3)))
    second = pl.DataFrame({"participant_id": ["P01"], "n": [2]})
    got = LakeCache(study, lake_of(study)).get("answer", lambda: counting(second, calls))
    assert got.equals(second) and len(calls) == 2, "a new batch: computed again"

    study.paths.roster_csv.write_text("participant_id,timezone\nP01,Europe/Oslo\n", "utf-8")
    study = open_study(study.root)
    third = pl.DataFrame({"participant_id": ["P01"], "n": [3]})
    got = LakeCache(study, lake_of(study)).get("answer", lambda: counting(third, calls))
    assert got.equals(third) and len(calls) == 3, "a roster change: computed again"


def test_a_crash_between_answer_and_key_computes_again(tmp_path: Path) -> None:
    study = init_study(tmp_path / "study")
    lake = lake_of(study)
    lake.write_batch(day_batch("P01", date(2026, 3, 2)))
    cache = LakeCache(study, lake)
    cache.get("answer", lambda: pl.DataFrame({"n": [1]}))
    cache._set_key("answer", "")  # as if killed after writing the answer, before its key
    got = LakeCache(study, lake).get("answer", lambda: pl.DataFrame({"n": [2]}))
    assert got["n"].to_list() == [2]
