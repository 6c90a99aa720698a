"""Participants are the roster's: inbox folders of ids not in roster.csv are held, not read.

Held files stay in the inbox untouched and are not written to the lake, so
the first run after the id is added to the roster reads them like any new
file. A near miss (case, spaces, one character off) is named, since it is
usually a typo in the folder name or the roster.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingest.pipeline import FileOutcome
from pipeline.jobs import InboxItem, files_of

NOT_IN_ROSTER = "not in roster.csv"


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether two strings differ by one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:k] + long_[k + 1 :] == short for k in range(len(long_)))


def near_miss(participant_id: str, roster_ids: Iterable[str]) -> str | None:
    """The roster id a folder name most likely meant: same ignoring case and spaces, or one edit away."""
    ids = sorted(roster_ids)
    squashed = participant_id.replace(" ", "").casefold()
    for rid in ids:
        if rid.replace(" ", "").casefold() == squashed:
            return rid
    return next((rid for rid in ids if _one_edit_apart(participant_id, rid)), None)


def hold_reason(participant_id: str, roster_ids: Iterable[str]) -> str:
    guess = near_miss(participant_id, roster_ids)
    hint = (
        f"; did you mean {guess}?"
        if guess
        else "; add it to roster.csv and the next run reads these files"
    )
    return f"{participant_id!r} {NOT_IN_ROSTER}{hint}"


def hold_unrostered(
    items: list[InboxItem], roster_ids: Iterable[str]
) -> tuple[list[InboxItem], list[FileOutcome]]:
    """The items of rostered participants, and one held outcome per file of the others.

    Refused entries (a linked participant folder, a FIFO) are kept whoever they belong
    to: they are never read, and their refusal must be reported, not hidden by the hold.
    """
    ids = set(roster_ids)
    kept = [i for i in items if i.participant_id in ids or i.refused is not None]
    held = [
        FileOutcome(
            "", str(f), i.participant_id, "held", "skipped", hold_reason(i.participant_id, ids)
        )
        for i in items
        if i.participant_id not in ids and i.refused is None
        for f in files_of(i)
    ]
    return kept, held
