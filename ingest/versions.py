"""Reader versions and intake settings: what decided a file, so a file not read is tried again when that changes.

Every manifest row records the version of each reader family that decided
it (``reader_versions``, JSON ``{family: version}``) and the study settings
that did (``settings``, JSON of its parts, and ``settings_hash``): the
archive limits, and the participant mapping (the participant's roster entry
and time zone, the roster's Fitabase ids, ``--participant-from-id``).

A file ``skipped``, ``quarantined`` or ``partial`` is *stale* once one of
the families it records has another version now, or its settings hash
differs: a newer reader or a raised limit may read it (more). The ingest
then treats it as new and, when it reads it again, retires the old rows
first (``store.lake.Lake.retire``), so nothing counts twice. A file read
whole (``ok``) is never re-read by this.

Each family's version lives in its own package (``ingest/<family>/version.py``,
``ingest/archive.py`` and ``ingest/recognise.py``); bump it by one with any
change that makes the family read a file differently.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import polars as pl

from store.lake import NOT_READ_WHOLE

FAMILY_MODULES: dict[str, str] = {
    "fit": "ingest.fit.version",
    "fitbit": "ingest.fitbit.version",
    "garmin": "ingest.garmin.version",
    "apple": "ingest.apple.version",
    "activity_xml": "ingest.activity_xml.version",
    "archive": "ingest.archive",
    "recognise": "ingest.recognise",
}
"""Reader family -> the module holding its ``READER_VERSION``."""

RETRIED_STATUSES = NOT_READ_WHOLE
"""Statuses of files that a newer reader or changed settings may read (more)."""


def reader_versions() -> dict[str, int]:
    """The current version of every reader family."""
    return {
        family: int(importlib.import_module(module).READER_VERSION)
        for family, module in FAMILY_MODULES.items()
    }


def family_of_module(module: str) -> str:
    """The family of a reader module (``ingest.fitbit`` -> ``fitbit``)."""
    return module.split(".")[1]


def versions_json(families: Mapping[str, int]) -> str:
    return json.dumps(dict(sorted(families.items())), separators=(",", ":"))


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def intake_settings(
    limits: object,
    *,
    timezone: str | None,
    in_roster: bool,
    id_map: Mapping[str, str],
    participant_from_id: bool,
) -> dict[str, Any]:
    """The settings that decide how one participant's files are read, as recorded parts.

    ``limits`` is an ``ingest.archive_limits.ArchiveLimits``. The Fitabase id map is
    recorded by its size and hash (it can hold the whole roster).
    """
    return {
        "archive_limits": asdict(limits),  # type: ignore[call-overload]
        "participant": {
            "in_roster": in_roster,
            "timezone": timezone,
            "participant_from_id": participant_from_id,
            "fitabase_ids": {
                "count": len(id_map),
                "hash": _digest(sorted(id_map.items())),
            },
        },
    }


def settings_json(settings: Mapping[str, Any]) -> tuple[str, str]:
    """``(settings JSON, its hash)`` for the manifest."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":")), _digest(settings)


def changed_parts(recorded: str | None, current: Mapping[str, Any]) -> list[str]:
    """Names of the settings parts that differ between a recorded JSON and ``current``."""
    if not recorded:
        return ["not recorded"]
    try:
        old = json.loads(recorded)
    except ValueError:
        return ["not recorded"]
    out: list[str] = []
    for part, value in current.items():
        old_part = old.get(part)
        if isinstance(value, dict) and isinstance(old_part, dict):
            out += [f"{part}.{k}" for k in value if old_part.get(k) != value[k]]
        elif old_part != value:
            out.append(part)
    return out


def why_stale(
    row: Mapping[str, Any], current_versions: Mapping[str, int], current: Mapping[str, Any]
) -> str | None:
    """Why a manifest row's file should be read again (None: it should not).

    ``row`` has ``status``, ``reader_versions``, ``settings`` and
    ``settings_hash``; ``current`` is the participant's ``intake_settings``.
    A row recorded before versions were kept is stale (it was decided by
    readers and settings irisin can no longer name).
    """
    if row["status"] not in RETRIED_STATUSES:
        return None
    reasons: list[str] = []
    recorded = row.get("reader_versions")
    if recorded is None:
        reasons.append("reader versions not recorded")
    else:
        try:
            old: dict[str, int] = json.loads(recorded)
        except ValueError:
            old = {}
        bumped = [
            f"{f} reader {v} -> {current_versions[f]}"
            for f, v in sorted(old.items())
            if f in current_versions and current_versions[f] != v
        ]
        reasons += bumped
    if row.get("settings_hash") != settings_json(current)[1]:
        parts = changed_parts(row.get("settings"), current)
        if parts:
            reasons.append("settings changed: " + ", ".join(parts))
    return "; ".join(reasons) or None


def stale_rows(
    unread: pl.DataFrame,
    current_versions: Mapping[str, int],
    settings_of: Mapping[str, Mapping[str, Any]] | Any,
) -> pl.DataFrame:
    """The rows of ``unread`` (``Lake.unread_rows``) whose files should be read again, with a ``why`` column.

    ``settings_of(participant_id)`` (a callable or a mapping) gives a
    participant's current settings.
    """
    get = settings_of if callable(settings_of) else settings_of.__getitem__
    candidates = unread.filter(pl.col("status").is_in(RETRIED_STATUSES))
    if candidates.height == 0:
        return candidates.with_columns(pl.lit(None, pl.String).alias("why"))
    whys = [
        why_stale(row, current_versions, get(row["participant_id"]))
        for row in candidates.select(
            "participant_id", "status", "reader_versions", "settings", "settings_hash"
        ).iter_rows(named=True)
    ]
    return candidates.with_columns(pl.Series("why", whys, pl.String)).filter(
        pl.col("why").is_not_null()
    )
