"""Fitbit's account ``Profile.csv``: the birth year, for Tanaka's maximum heart rate.

Where it is and what it holds [reported, from other readers of real exports]:

* Takeout: ``Takeout/Fitbit/Your Profile/Profile.csv`` (a public forensic
  parser of Google Takeout lists that path) and, in the 2026 archives,
  ``Takeout/Google Health/Your Profile/Profile.csv``; the legacy account
  archive: ``<Name>/Personal & Account/Profile.csv`` (a public Kotlin importer
  of the archive reads ``Profile.csv`` in ``Personal & Account``).
* One header line and one row. The header starts
  ``id,full_name,first_name,last_name,display_name_setting,...`` and holds
  ``date_of_birth`` as an ISO date (``1990-05-20``), beside ``email_address``,
  ``timezone``, ``gender``, ``height`` and ``weight``. Empty fields are written
  ``null``.

irisin finds ``date_of_birth`` by its header name (column order has changed
between archives), reads nothing else, and keeps only the year
(``ingest.birth_year``). The file itself stays in the raw store unaltered, as
every raw file does; no name, e-mail address or date reaches the lake.
"""

from __future__ import annotations

import csv
import io

from ingest.birth_year import birth_year_of, birth_year_profile
from ingest.contract import Member, ReadContext, ReadResult, must_propagate
from ingest.fitbit.discovery import FitbitFile
from ingest.fitbit.results import quarantined, skipped
from ingest.fitbit.tables import SOURCE_TAKEOUT
from ingest.salvage import without_bom

BIRTH_DATE_COLUMN = "date_of_birth"
MAX_PROFILE_BYTES = 1 << 20
"""A profile is one row of a few hundred bytes; anything over 1 MiB is not one and is held."""


def read_account_profile(file: FitbitFile, member: Member, ctx: ReadContext) -> ReadResult:
    """One ``profiles`` row with the birth year of ``date_of_birth``; ``skipped`` when it has none."""
    kind = file.kind
    if member.size > MAX_PROFILE_BYTES:
        return quarantined(kind, member.path, f"{member.size:,} bytes is not a one-row profile")
    try:
        data = member.load()
    except Exception as exc:
        if must_propagate(exc):
            raise
        return quarantined(kind, member.path, f"bytes cannot be read ({type(exc).__name__})")
    try:
        text = without_bom(data).decode("utf-8")
    except UnicodeDecodeError:
        return quarantined(kind, member.path, "not UTF-8 text")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return skipped(kind, member.path, "empty account profile")
    header = [h.strip().lower() for h in rows[0]]
    if BIRTH_DATE_COLUMN not in header:
        return skipped(kind, member.path, f"account profile without a {BIRTH_DATE_COLUMN} column")
    at = header.index(BIRTH_DATE_COLUMN)
    years = {birth_year_of(row[at]) for row in rows[1:] if len(row) > at}
    years.discard(None)
    if len(years) != 1:
        why = "no plausible ISO date" if not years else "rows that disagree"
        return skipped(kind, member.path, f"account profile, {BIRTH_DATE_COLUMN} has {why}")
    (year,) = years
    assert year is not None
    return ReadResult(
        kind=kind,
        tables={"profiles": birth_year_profile(SOURCE_TAKEOUT, year)},
        notes={"birth_year_read": True},
    )
