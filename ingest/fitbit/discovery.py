"""Find Fitbit and Fitabase data files by name, anywhere under an export root.

Takeout archives move their Fitbit folders around between years
(``Takeout/Fitbit/Global Export Data``, ``Takeout/Fitbit/Physical
Activity_GoogleData``, ``Takeout/Google Health/...``, legacy ``user-site-export``
or per-category folders such as ``Physical Activity``), so nothing here assumes
a root or a folder name: a file is recognised by its own name, wherever it
sits (``inbox/P/user-site-export/``, ``MyFitbitData/<Name>/``, a renamed or
flattened Takeout), and the pipeline confirms it from its content
(``ingest.recognise``) before a reader sees it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

JSON_SERIES: tuple[str, ...] = (
    "steps",
    "heart_rate",
    "moderately_active_minutes",
    "very_active_minutes",
    "lightly_active_minutes",
    "sedentary_minutes",
    "resting_heart_rate",
    "time_in_heart_rate_zones",
)
"""JSON-family series irisin reads; the file name is ``<series>-YYYY-MM-DD.json``."""

CSV_SERIES: tuple[str, ...] = (
    "active_minutes",
    "steps",
    "heart_rate",
    "activity_level",
    "active_zone_minutes",
)
"""CSV-family series irisin reads; the file name is ``<series>_YYYY-MM-DD.csv``."""

FITABASE_FILES: dict[str, str] = {
    "dailyactivity": "daily_activity",
    "dailyintensities": "daily_intensities",
    "dailysteps": "daily_steps",
    "minuteintensitiesnarrow": "minute_intensities_narrow",
    "minuteintensitieswide": "minute_intensities_wide",
    "minutestepsnarrow": "minute_steps_narrow",
    "minutestepswide": "minute_steps_wide",
    "minutemetsnarrow": "minute_mets_narrow",
    "heartrate_seconds": "heartrate_seconds",
}
"""Fitabase ``<name>_merged.csv`` stems (lower case) that feed canonical tables, to kind suffixes."""

FITABASE_UNUSED: frozenset[str] = frozenset(
    {
        "dailycalories",
        "hourlycalories",
        "hourlyintensities",
        "hourlysteps",
        "minutecaloriesnarrow",
        "minutecalorieswide",
        "minutesleep",
        "sleepday",
        "weightloginfo",
    }
)
"""Fitabase files irisin knows but does not load: hourly sums of the minute files, calories, sleep, weight."""

PROFILE_FOLDERS: frozenset[str] = frozenset({"your profile", "personal & account", "user-profile"})
"""Folders (lower case) that hold the account's ``Profile.csv``: ``Takeout/Fitbit/Your Profile/``
(and ``Takeout/Google Health/Your Profile/``) in Takeout, ``<Name>/Personal & Account/`` in the legacy
account archive, ``user-profile/`` beside ``user-site-export/`` in older ones. ``Profile.csv`` is too
generic a name to claim anywhere else."""

_JSON_NAME = re.compile(r"^(?P<series>[a-z_]+)-(?P<day>\d{4}-\d{2}-\d{2})\.json$")
_EXERCISE_NAME = re.compile(r"^exercise-\d+\.json$")
_CSV_NAME = re.compile(r"^(?P<series>[a-z_]+)_(?P<day>\d{4}-\d{2}-\d{2})\.csv$")
_FITABASE_NAME = re.compile(r"^(?P<stem>[A-Za-z_]+)_merged\.csv$")


@dataclass(frozen=True)
class FitbitFile:
    """A recognised Takeout/legacy file: family (json/csv), series and the date in its name."""

    path: str
    family: str
    series: str
    named_day: date | None

    @property
    def kind(self) -> str:
        return f"fitbit_{self.family}_{self.series}"


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def classify_fitbit(path: str) -> FitbitFile | None:
    """The Takeout file a path names, or None when irisin does not read it."""
    name = _basename(path)
    if name.lower() == "profile.csv":
        folder = path.rsplit("/", 2)[-2].lower() if path.count("/") else ""
        return FitbitFile(path, "account", "profile", None) if folder in PROFILE_FOLDERS else None
    if _EXERCISE_NAME.match(name):
        return FitbitFile(path, "json", "exercise", None)
    m = _JSON_NAME.match(name)
    if m and m["series"] in JSON_SERIES:
        return FitbitFile(path, "json", m["series"], _parse_day(m["day"]))
    m = _CSV_NAME.match(name)
    if m and m["series"] in CSV_SERIES:
        return FitbitFile(path, "csv", m["series"], _parse_day(m["day"]))
    return None


def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def fitabase_stem(path: str) -> str | None:
    """Lower-case stem of a ``*_merged.csv`` file name, or None for other files."""
    m = _FITABASE_NAME.match(_basename(path))
    return m["stem"].lower() if m else None


def looks_like_fitbit_export(paths: Sequence[str]) -> bool:
    """True when at least one file is named like a Takeout or legacy file irisin reads, at any depth.

    Ancestor folder names do not count: archives are renamed, flattened and
    dropped under any folder; the file's own name (and, in the pipeline, its
    content) decides.
    """
    return any(classify_fitbit(p) is not None for p in paths)


def looks_like_fitabase_export(paths: Sequence[str]) -> bool:
    """True when any file is a Fitabase ``<name>_merged.csv`` that irisin knows."""
    for p in paths:
        stem = fitabase_stem(p)
        if stem is not None and (stem in FITABASE_FILES or stem in FITABASE_UNUSED):
            return True
    return False
