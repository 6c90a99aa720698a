"""Where things live in a Garmin Connect "request your data" export.

Garmin names its folders, not its files' contents, so irisin locates every
member by its path. Two layouts exist: current exports keep daily summaries
(``UDSFile_*.json``) in ``DI-Connect-Aggregator/`` and original uploads in
``DI-Connect-Uploaded-Files/``; older exports keep the daily summaries in
``DI-Connect-User/`` and uploads in ``DI-Connect-Fitness-Uploaded-Files/``.
Matching is on the last folder and the file name only, so an export zipped
from inside ``DI_CONNECT/`` or unpacked under another folder is found too; a
daily-summary or activity file handed over on its own (no folder at all) is
recognised by its distinctive name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class GarminKind(StrEnum):
    """Kinds of Garmin export members irisin reads; the value is the manifest ``kind``."""

    DAILY_SUMMARIES = "garmin_uds"
    ACTIVITIES = "garmin_summarized_activities"
    USER_PROFILE = "garmin_user_profile"


def _in_folder_or_loose(folder: str, name: str) -> re.Pattern[str]:
    """``name`` directly inside ``folder`` (anywhere in the path), or on its own with no folder."""
    return re.compile(rf"(?:^|(?:^|/){folder}/){name}$", re.IGNORECASE)


_PATTERNS: tuple[tuple[GarminKind, re.Pattern[str]], ...] = (
    (
        GarminKind.DAILY_SUMMARIES,
        _in_folder_or_loose("DI-Connect-(?:Aggregator|User)", r"UDSFile_[^/]*\.json"),
    ),
    (
        GarminKind.ACTIVITIES,
        _in_folder_or_loose("DI-Connect-Fitness", r"[^/]*_summarizedActivities\.json"),
    ),
    (
        GarminKind.USER_PROFILE,
        re.compile(r"(?:^|/)DI-Connect-User/user_profile\.json$", re.IGNORECASE),
    ),
)

_EXPORT_MARKER = re.compile(r"(?:^|/)(?:DI_CONNECT|DI-Connect-[^/]+)(?:/|$)", re.IGNORECASE)


def classify_member(path: str) -> GarminKind | None:
    """The kind of a member path (relative, ``/``-separated), or None if irisin does not read it here.

    FIT, TCX and GPX uploads are not classified: the pipeline reads FIT files
    with irisin's FIT reader, whichever export they came in.
    """
    for kind, pattern in _PATTERNS:
        if pattern.search(path):
            return kind
    return None


def looks_like_garmin_export(paths: Iterable[str]) -> bool:
    """True when any path has a ``DI_CONNECT`` or ``DI-Connect-*`` folder, the signature of a Garmin
    export, or is a loose ``UDSFile_*.json`` / ``*_summarizedActivities.json`` taken out of one."""
    return any(_EXPORT_MARKER.search(p) or ("/" not in p and classify_member(p)) for p in paths)
