"""Fitbit readers: Google Takeout (JSON and CSV families), legacy account archives, Fitabase CSV.

Public API, called by ``ingest.pipeline`` with the members of one export:

* ``looks_like_fitbit_export(paths)`` / ``read_fitbit_export(members, ctx)``:
  Takeout and legacy archives of one participant (source ``fitbit_takeout``);
* ``looks_like_fitabase_export(paths)`` / ``read_fitabase_export(members, ctx)``:
  Fitabase ``*_merged.csv`` exports of many participants (source ``fitabase``).

Each returns one ``ReadResult`` per member it recognises; other members are
left out and recorded by the pipeline as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.contract import Member, ReadContext, ReadResult
from ingest.fitbit.account_profile import read_account_profile
from ingest.fitbit.bouting import fitbit_default
from ingest.fitbit.csv_family import read_csv_family
from ingest.fitbit.discovery import (
    FitbitFile,
    classify_fitbit,
    looks_like_fitabase_export,
    looks_like_fitbit_export,
)
from ingest.fitbit.fitabase import read_fitabase_export
from ingest.fitbit.json_family import read_json_family

__all__ = [
    "looks_like_fitabase_export",
    "looks_like_fitbit_export",
    "read_fitabase_export",
    "read_fitbit_export",
]


def read_fitbit_export(members: Sequence[Member], ctx: ReadContext) -> dict[str, ReadResult]:
    """Read one participant's Takeout or legacy Fitbit export (JSON and CSV families, account profile)."""
    json_files: list[tuple[FitbitFile, Member]] = []
    csv_files: list[tuple[FitbitFile, Member]] = []
    results: dict[str, ReadResult] = {}
    for member in members:
        file = classify_fitbit(member.path)
        if file is None:
            continue
        if file.family == "account":
            results[member.path] = read_account_profile(file, member, ctx)
            continue
        (json_files if file.family == "json" else csv_files).append((file, member))
    if json_files:
        json_results, _decision = read_json_family(json_files, ctx, fitbit_default())
        results.update(json_results)
    if csv_files:
        results.update(read_csv_family(csv_files, ctx))
    return results
