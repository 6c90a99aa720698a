"""Participants are the roster's: inbox folders of ids not in roster.csv are held, not read.

Held files stay in the inbox untouched and are not written to the lake, so
the first run after the id is added to the roster reads them like any new
file. A near miss (case, spaces, one character off) is named, since it is
usually a typo in the folder name or the roster.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingest.pipeline import FileOutcome
from ingest.roster_hold import NOT_IN_ROSTER, hold_reason, near_miss
from pipeline.jobs import InboxItem, files_of

__all__ = ["NOT_IN_ROSTER", "hold_reason", "hold_unrostered", "near_miss"]


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
