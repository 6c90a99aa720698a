"""``read_fit``: one FIT file's bytes to canonical tables (the ``FileReader`` contract).

* monitoring files (``file_id.type`` 15, 28, 32) -> source ``fit_monitoring``:
  ``minutes`` and ``daily_totals`` (``ingest.fit.monitoring``);
* activity files (type 4) -> source ``fit_activity``: ``minutes``,
  ``sessions`` and ``profiles`` (``ingest.fit.activity``);
* every other type (settings, workout, weight, sleep 49, HRV 68, ...) is
  recognised and ``skipped`` with a reason;
* bytes that are not FIT are ``quarantined``; damage (truncation, bad CRC,
  undefined local message) gives ``partial`` with whatever came before it;
* the file's creation time goes into the notes (``created_utc``): the
  pipeline drops records dated more than 31 days after it
  (``ingest.time_window``).

Nothing raises for bad bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ingest.contract import ReadContext, ReadResult, Status, must_propagate
from ingest.fit.activity import activity_tables, profile_table
from ingest.fit.decode import DecodedFit, decode_fit
from ingest.fit.file_info import ACTIVITY_TYPES, MONITORING_TYPES, FileInfo, file_info, first_valid
from ingest.fit.monitoring import MonitoringFile, monitoring_tables_many
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S, FIT_MIN_ABSOLUTE_S
from ingest.time_window import CREATED_KEY, FAMILY_EPOCH

NEEDED_MESSAGES = (
    "file_id",
    "monitoring",
    "monitoring_info",
    "activity",
    "device_settings",
    "record",
    "session",
    "lap",
    "sport",
    "user_profile",
    "zones_target",
    "time_in_zone",
    "monitoring_hr_data",
)
"""Messages the mapping reads; the decoder skips the values of all others."""


def _kind(info: FileInfo, decoded: DecodedFit) -> str:
    if info.file_type in MONITORING_TYPES:
        return "fit_monitoring"
    if info.file_type in ACTIVITY_TYPES:
        return "fit_activity"
    if info.file_type is None:  # no file_id: go by content
        if len(decoded["monitoring"]):
            return "fit_monitoring"
        if len(decoded["record"]) or len(decoded["session"]):
            return "fit_activity"
    return f"fit_{info.type_name}"


def _notes(info: FileInfo, decoded: DecodedFit) -> dict[str, Any]:
    notes: dict[str, Any] = {
        "fit_file_type": info.file_type,
        "fit_file_type_name": info.type_name,
        "device": info.device,
        "utc_offset_s": info.utc_offset_s,
        "utc_offset_source": info.offset_source,
        "chained_files": len(decoded.segments),
        "data_records": decoded.n_records,
    }
    if decoded.damage_offset is not None:
        notes["damage_offset"] = decoded.damage_offset
    created = _created_utc(info)
    if created is not None:
        notes[CREATED_KEY] = created  # lowers this file's ceiling (ingest.time_window)
    return notes


def _created_utc(info: FileInfo) -> str | None:
    """The file's creation time (ISO 8601, UTC), unless it is not a date a FIT device could hold.

    A creation time before FIT devices existed (``FAMILY_EPOCH``) is a clock not
    yet set when the file was opened; it must not cut records written once it was.
    """
    if info.time_created is None or info.time_created < FIT_MIN_ABSOLUTE_S:
        return None
    stamp = datetime.fromtimestamp(info.time_created + FIT_EPOCH_UNIX_S, UTC)
    if stamp.date() < FAMILY_EPOCH["fit_monitoring"]:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Monitoring:
    """A decoded monitoring file waiting for its batch's conversion."""

    decoded: DecodedFit
    info: FileInfo
    notes: dict[str, Any]
    status: Status
    file: MonitoringFile


def _start(data: bytes, ctx: ReadContext) -> ReadResult | _Monitoring:
    """Decode one file: its final result, or, for a monitoring file, what its conversion needs."""
    decoded = decode_fit(data, messages=NEEDED_MESSAGES)
    if decoded.status == "not_fit":
        return ReadResult(
            kind="fit", status="quarantined", reason=f"not a FIT file: {decoded.reason}"
        )
    info = file_info(decoded)
    kind = _kind(info, decoded)
    notes = _notes(info, decoded)
    status: Status = "partial" if decoded.status == "partial" else "ok"
    reason = decoded.reason
    if kind == "fit_monitoring":
        local = first_valid(decoded["monitoring_info"], "local_timestamp")
        file = MonitoringFile(
            decoded["monitoring"],
            offset_s=info.utc_offset_s,
            timezone=ctx.timezone,
            file_start_local_s=int(local) if local is not None else None,
            device=info.device,
        )
        return _Monitoring(decoded, info, notes, status, file)
    if kind == "fit_activity":
        tables, more = activity_tables(
            decoded,
            offset_s=info.utc_offset_s,
            timezone=ctx.timezone,
            device=info.device,
            observed_t=info.time_created,
        )
        notes.update(more)
        return _finish(kind, status, reason, tables, notes)
    skip_reason = (
        f"FIT file type {info.type_name!r} ({info.file_type}) holds no minute, session or day data"
    )
    if status == "partial":
        skip_reason += f"; also damaged: {reason}"
    return ReadResult(kind=kind, status="skipped", reason=skip_reason, notes=notes)


def _finish(
    kind: str,
    status: Status,
    reason: str | None,
    tables: dict[str, pa.Table],
    notes: dict[str, Any],
) -> ReadResult:
    if status == "ok" and not any(t.num_rows for t in tables.values()):
        notes["empty"] = True
    return ReadResult(kind=kind, status=status, reason=reason, tables=tables, notes=notes)


def _monitoring_results(pending: Sequence[_Monitoring]) -> list[ReadResult]:
    """Convert decoded monitoring files together (``monitoring_tables_many``); one result per file."""
    converted = monitoring_tables_many([m.file for m in pending])
    out = []
    for m, (tables, more) in zip(pending, converted, strict=True):
        profile = profile_table(
            m.decoded, m.info.time_created, m.info.device, source="fit_monitoring"
        )
        if profile is not None:
            tables["profiles"] = profile
        m.notes.update(more)
        out.append(_finish("fit_monitoring", m.status, m.decoded.reason, tables, m.notes))
    return out


def read_fit(data: bytes, ctx: ReadContext) -> ReadResult:
    """Read one FIT file into canonical tables (see module docstring)."""
    started = _start(data, ctx)
    if isinstance(started, ReadResult):
        return started
    return _monitoring_results([started])[0]


Outcome = ReadResult | BaseException
"""A file's result, or the exception reading it raised (left to the caller to judge)."""


def read_fits(jobs: Sequence[tuple[bytes, ReadContext]]) -> list[Outcome]:
    """``read_fit`` of many files, their monitoring messages converted in one batch; one outcome per job.

    Each file is decoded alone (the decoder's cost is per file), then every
    monitoring file's messages go through one conversion over the batch's
    concatenated columns, so per-file query and array overhead is paid once per
    batch. Results equal ``read_fit`` file by file (``tests/fit/test_fit_batch.py``):
    an exception while decoding a file is that file's outcome alone, and if
    the batch conversion itself raises, its files are converted one by one so
    the fault stays with the file that caused it.
    """
    outcomes: list[Outcome | None] = [None] * len(jobs)
    pending: list[tuple[int, _Monitoring]] = []
    for k, (data, ctx) in enumerate(jobs):
        try:
            started = _start(data, ctx)
        except BaseException as e:
            if must_propagate(e):
                raise
            outcomes[k] = e  # judged by the caller, as read_fit's would be
            continue
        if isinstance(started, ReadResult):
            outcomes[k] = started
        else:
            pending.append((k, started))
    if pending:
        try:
            results: list[Outcome] = list(_monitoring_results([m for _, m in pending]))
        except BaseException as e:  # find the file at fault: convert them one by one
            if must_propagate(e):
                raise
            results = []
            for _, m in pending:
                try:
                    results.append(_monitoring_results([m])[0])
                except BaseException as e:
                    if must_propagate(e):
                        raise
                    results.append(e)
        for (k, _), result in zip(pending, results, strict=True):
            outcomes[k] = result
    return [o for o in outcomes if o is not None]
