"""The birth year in an export's own account profile, and the one ``profiles`` row that carries it.

Heart-rate reserve needs a maximum heart rate. Where neither the roster nor a
device gives one, Tanaka's ``208 - 0.7 x age`` needs only an age, and the
account profile inside many exports states the date of birth (Fitbit
``Profile.csv`` column ``date_of_birth``, Garmin ``user_profile.json`` key
``birthDate``). The pipeline keeps only the year: that is all the formula
needs, and the full date is an identifier a study should not copy into its
lake (the raw file itself is kept unaltered, as every raw file is).

The row has no ``observed_utc``: the profile states a fact, not a reading at a
time (``ingest.time_window`` keeps undated rows).
"""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa

EARLIEST_BIRTH_YEAR = 1900
"""Years before this are not a participant's (a placeholder such as ``1800-01-01`` or a typo)."""

_ISO_DATE = re.compile(r"^\s*(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?:[T ].*)?\s*$")


def birth_year_of(text: object, *, today: date | None = None) -> int | None:
    """The year of an ISO 8601 date of birth (``1990-05-20``, optionally with a time), or None.

    None for anything else: an empty or ``null`` field, another date format, an
    impossible calendar date, a year before ``EARLIEST_BIRTH_YEAR`` or after
    ``today``'s.
    """
    if not isinstance(text, str):
        return None
    m = _ISO_DATE.match(text)
    if m is None:
        return None
    try:
        born = date(int(m["year"]), int(m["month"]), int(m["day"]))
    except ValueError:
        return None
    latest = (today or date.today()).year
    return born.year if EARLIEST_BIRTH_YEAR <= born.year <= latest else None


def birth_year_profile(source: str, year: int) -> pa.Table:
    """One ``profiles`` row stating ``year`` as the birth year (no device, no time, no HR values)."""
    return pa.table(
        {
            "source": pa.array([source], pa.string()),
            "device": pa.array([None], pa.string()),
            "observed_utc": pa.array([None], pa.timestamp("us", tz="UTC")),
            "age_years": pa.array([None], pa.int16()),
            "resting_heart_rate_bpm": pa.array([None], pa.float32()),
            "max_heart_rate_bpm": pa.array([None], pa.float32()),
            "birth_year": pa.array([year], pa.int16()),
        }
    )
