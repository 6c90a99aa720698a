"""Where things live in a Garmin Connect "request your data" export.

Garmin names its folders, not its files' contents, so irisin locates every
member by its path. Two layouts exist: current exports keep daily summaries
(``UDSFile_*.json``) in ``DI-Connect-Aggregator/`` and original uploads in
``DI-Connect-Uploaded-Files/``; older exports keep the daily summaries in
``DI-Connect-User/`` and uploads in ``DI-Connect-Fitness-Uploaded-Files/``.
Daily-summary and activity files are recognised by their distinctive names
at any depth (an export unpacked under any top folder, renamed, or with its
``DI-Connect-*`` folders flattened), and the pipeline confirms them from
their JSON keys (``ingest.recognise``); only ``user_profile.json``, a
generic name, needs its ``DI-Connect-User`` folder.
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


def _named_anywhere(name: str, unless_in: str = "(?!)") -> re.Pattern[str]:
    """A file called ``name`` at any depth, except directly inside a folder matching ``unless_in``."""
    return re.compile(rf"^(?!(?:.*/)?(?:{unless_in})/[^/]*$)(?:.*/)?{name}$", re.IGNORECASE)


_PATTERNS: tuple[tuple[GarminKind, re.Pattern[str]], ...] = (
    (
        GarminKind.DAILY_SUMMARIES,
        _named_anywhere(r"UDSFile_[^/]*\.json", unless_in="DI-Connect-Metrics"),
    ),
    (
        GarminKind.ACTIVITIES,
        _named_anywhere(r"[^/]*_summarizedActivities\.json"),
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
    """True when any path has a ``DI_CONNECT`` or ``DI-Connect-*`` folder, or any file at any depth is
    named like a Garmin daily-summary or activity file."""
    return any(_EXPORT_MARKER.search(p) or classify_member(p) for p in paths)
