"""Backfill checkpoints: batch plans, resuming, starting afresh after a finished backfill."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flows.checkpoint import Checkpoint, plan_batches


def test_batches_cut_the_sorted_cohort() -> None:
    batches = plan_batches(["P05", "P01", "P03", "P02", "P04"], 2)
    assert [b.participants for b in batches] == [("P01", "P02"), ("P03", "P04"), ("P05",)]
    assert [b.index for b in batches] == [0, 1, 2]


def test_a_checkpoint_resumes_until_finished(tmp_path: Path) -> None:
    batches = plan_batches(["A", "B", "C"], 1)
    params = {"participants": None, "since": None, "until": None, "source_dir": None}
    first = Checkpoint.resume_or_start(tmp_path, params, batches)
    first.mark_done(1, files=10, minute_rows=100)

    resumed = Checkpoint.resume_or_start(tmp_path, params, batches)
    assert resumed.path == first.path
    assert [i for i in range(3) if resumed.is_done(i)] == [1] and resumed.done_files() == 10

    other = Checkpoint.resume_or_start(tmp_path, {**params, "since": date(2026, 3, 1)}, batches)
    assert other.path != first.path and other.done_count() == 0

    resumed.finish("run-1")
    again = Checkpoint.resume_or_start(tmp_path, params, batches)
    assert again.path == first.path and again.done_count() == 0
    assert not list(tmp_path.rglob("*.tmp"))
