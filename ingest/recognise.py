"""Which export family a file belongs to, from its own name and the first bytes of its content.

Exports arrive renamed, flattened and under any folder, so ancestor folder
names decide nothing. A file's name proposes families (``steps-2020-01-01.json``
is Fitbit's, ``UDSFile_*.json`` Garmin's, ``dailyActivity_merged.csv``
Fitabase's) and its content decides: JSON keys (``dateTime``, ``calendarDate``,
``summarizedActivitiesExport``) and CSV headers (``timestamp,...``, ``Id,...``).
When the content names another family than the name, or the name fits more
than one, the decision and its evidence are returned so the pipeline can
record them in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.fitbit.discovery import FITABASE_FILES, FITABASE_UNUSED, classify_fitbit, fitabase_stem
from ingest.garmin.layout import classify_member

READER_VERSION = 2
"""Version of this module's rules, recorded in the manifest of every file they decide; bump it (by
one) with a change that lets a file they refused or skipped through (see ``ingest.versions``)."""

FITBIT = "fitbit_takeout"
FITABASE = "fitabase"
GARMIN = "garmin_export"
FAMILIES: tuple[str, ...] = (GARMIN, FITBIT, FITABASE)
"""The export families decided here; the names are those of ``ingest.pipeline.BUNDLE_KINDS``."""

HEAD_BYTES = 4096
"""How much of a file the content check reads: enough for a JSON array's first record or a CSV header."""

_JSON_KEYS: tuple[tuple[bytes, str, str], ...] = (
    (b'"summarizedActivitiesExport"', GARMIN, "JSON key summarizedActivitiesExport"),
    (b'"calendarDate"', GARMIN, "JSON key calendarDate"),
    (b'"dateTime"', FITBIT, "JSON key dateTime"),
    (b'"logId"', FITBIT, "JSON key logId"),
)


@dataclass(frozen=True)
class Recognition:
    """The family a file was given (None: none irisin reads) and why."""

    family: str | None
    evidence: str
    ambiguous: bool = False
    """The name alone did not settle it (it fits several families, or the content named another)."""


def families_by_name(path: str) -> list[str]:
    """Families whose readers read a file of this name, in reader order."""
    found: list[str] = []
    if classify_member(path) is not None:
        found.append(GARMIN)
    if classify_fitbit(path) is not None:
        found.append(FITBIT)
    stem = fitabase_stem(path)
    if stem is not None and (stem in FITABASE_FILES or stem in FITABASE_UNUSED):
        found.append(FITABASE)
    return found


def family_by_content(head: bytes) -> tuple[str | None, str]:
    """The family the first bytes of a file show, with the evidence; None when they show none."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"[", b"{"):
        for key, family, evidence in _JSON_KEYS:
            if key in text:
                return family, evidence
        return None, "JSON without the keys of a known export"
    header = text.split(b"\n", 1)[0].strip().lower()
    if header.startswith(b"timestamp,"):
        return FITBIT, f"CSV header {header[:60].decode('utf-8', 'replace')}"
    if header.startswith(b"id,full_name,"):  # Fitbit's account Profile.csv, before Fitabase's "Id,"
        return FITBIT, "CSV header id,full_name,... (Fitbit account profile)"
    if header.startswith(b"id,"):
        return FITABASE, f"CSV header {header[:60].decode('utf-8', 'replace')}"
    return None, "content of no known export"


def recognise(path: str, head: bytes) -> Recognition:
    """Decide a file's family from its name and first bytes.

    A name that fits one family keeps it unless the content plainly belongs
    to another family (then the file is not read as the named one: it is
    recorded with both). Content that matches no family is left to the named
    reader, which quarantines damaged bytes with their reason.
    """
    by_name = families_by_name(path)
    if not by_name:
        return Recognition(None, "not a file name irisin reads")
    by_content, evidence = family_by_content(head)
    if by_content in by_name:
        return Recognition(by_content, f"name and {evidence}", ambiguous=len(by_name) > 1)
    if by_content is not None:
        return Recognition(
            None,
            f"named like a {by_name[0]} file but its content is {by_content}'s ({evidence})",
            ambiguous=True,
        )
    return Recognition(by_name[0], f"name ({evidence})", ambiguous=len(by_name) > 1)
