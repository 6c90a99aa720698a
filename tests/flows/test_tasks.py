"""Retry decisions, participant interleaving and the study lock (no Prefect API needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import init_study
from flows.nightly import interleave_participants
from flows.tasks import StudyBusyError, is_transient, study_lock
from ingest.contract import TerminalInputError, TransientInputError
from pipeline.jobs import InboxItem


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientInputError("storage briefly unavailable"), True),
        (PermissionError("locked by the sync client"), True),
        (OSError(5, "I/O error"), True),
        (TimeoutError("mount did not answer"), True),
        (TerminalInputError("corrupt bytes"), False),
        (FileNotFoundError("gone"), False),
        (ValueError("a bug"), False),
        (None, False),
    ],
)
def test_only_transient_errors_are_retried(error: BaseException | None, transient: bool) -> None:
    assert is_transient(error) is transient


def test_participants_are_interleaved_so_a_window_spans_them() -> None:
    items = [
        InboxItem(pid, Path(f"{pid}-{k}"))
        for pid, n in (("B", 1), ("A", 3), ("C", 2))
        for k in range(n)
    ]
    order = [(i.participant_id, i.path.name) for i in interleave_participants(items)]
    assert order == [
        ("A", "A-0"),
        ("B", "B-0"),
        ("C", "C-0"),
        ("A", "A-1"),
        ("C", "C-1"),
        ("A", "A-2"),
    ]


def test_a_second_run_on_the_same_study_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s")

    def lock_again() -> None:
        with study_lock(study):
            pass

    with study_lock(study), pytest.raises(StudyBusyError, match="another irisin run"):
        lock_again()
    with study_lock(study):  # released afterwards
        pass
