"""Participants are the roster's: files for an id not in roster.csv are held, not read.

The reason names the roster and, for a near miss (case, spaces, one
character off), the id most likely meant: usually a typo in a folder name
or in the roster. A held file is recorded in the manifest as
``kind=held, status=skipped`` with ``settings.participant.in_roster`` false;
adding the id to the roster changes that setting, so the next run reads the
file by itself (``ingest.versions``).
"""

from __future__ import annotations

from collections.abc import Iterable

NOT_IN_ROSTER = "not in roster.csv"
HELD_KIND = "held"


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
    """Why a participant's files are held, naming a near miss when there is one."""
    guess = near_miss(participant_id, roster_ids)
    hint = (
        f"; did you mean {guess}?"
        if guess
        else "; add it to roster.csv and the next run reads these files"
    )
    return f"{participant_id!r} {NOT_IN_ROSTER}{hint}"
