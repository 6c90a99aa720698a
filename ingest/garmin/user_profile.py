"""Garmin ``DI-Connect-User/user_profile.json``: the birth year, for Tanaka's maximum heart rate.

The file is the account's identity record (``userName``, ``firstName``,
``gender``, ``birthDate``, ...). Its key names are [reported] in FORMATS.md
(no real Garmin export is public); ``birthDate`` as an ISO date is what other
readers of the export take from it (for example a public Python ingester of the
Garmin export that stores ``profile.get("birthDate")`` as the birth date).
irisin reads only ``birthDate`` and keeps only its year
(``ingest.birth_year``): a ``profiles`` row from which, when the roster gives
no ``birth_year`` or ``max_hr`` and no device states a maximum, heart-rate
reserve takes ``208 - 0.7 x age`` (``hr_params`` ``device``).
"""

from __future__ import annotations

from typing import Any

import orjson

from ingest.birth_year import birth_year_of, birth_year_profile
from ingest.contract import ReadContext, ReadResult
from ingest.garmin.json_records import GarminFormatError
from ingest.garmin.layout import GarminKind
from ingest.garmin.tables import SOURCE
from ingest.salvage import without_bom

BIRTH_DATE_KEY = "birthDate"


def _profile_object(document: Any) -> dict[str, Any] | None:
    """The profile object: the document itself, or the first object of a one-element array."""
    if isinstance(document, dict):
        return document
    if isinstance(document, list):
        return next((d for d in document if isinstance(d, dict)), None)
    return None


def read_user_profile(data: bytes, name: str, ctx: ReadContext) -> ReadResult:
    """One ``profiles`` row with the birth year of ``birthDate``; ``skipped`` when it has none.

    Raises ``GarminFormatError`` when the bytes are not a JSON object.
    """
    try:
        document = orjson.loads(without_bom(data))
    except orjson.JSONDecodeError as exc:
        raise GarminFormatError(f"{name}: not JSON ({exc})") from exc
    profile = _profile_object(document)
    if profile is None:
        raise GarminFormatError(f"{name}: not a JSON object (a Garmin user profile is one)")
    year = birth_year_of(profile.get(BIRTH_DATE_KEY))
    kind = GarminKind.USER_PROFILE.value
    if year is None:
        stated = BIRTH_DATE_KEY in profile and profile[BIRTH_DATE_KEY] not in (None, "")
        why = "birthDate is not an ISO date of a plausible year" if stated else "no birthDate"
        return ReadResult(kind=kind, status="skipped", reason=f"{name}: personal profile, {why}")
    return ReadResult(
        kind=kind,
        tables={"profiles": birth_year_profile(SOURCE, year)},
        notes={"birth_year_read": True},
    )
