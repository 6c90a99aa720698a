"""Readers for the Takeout / legacy-archive JSON family (``steps-*.json``, ``heart_rate-*.json``, ...).

One export holds one participant. Intraday files are scanned first so the
participant's clock (UTC or local stamps, see ``clock``) is decided from all of
them before any minute is placed in time. Heart rate arrives about every 5 s
and is averaged per clock minute; steps are one row per minute. Daily series
become ``daily_totals`` rows (``json_daily``) and ``exercise-*.json`` logs
become ``sessions`` (``json_exercise``), both on the clock decided here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from config.conform import PIPELINE_FILLED, conform
from config.schema import MINUTES, PLAUSIBLE_HEART_RATE_BPM
from ingest.contract import Member, ReadContext, ReadResult, Status, must_propagate
from ingest.fitbit.bouting import BoutDecision
from ingest.fitbit.clock import (
    ClockDecision,
    FileSpan,
    attach_offsets,
    detect_clock,
)
from ingest.fitbit.discovery import FitbitFile
from ingest.fitbit.json_daily import (
    DAILY_COLUMNS,
    Daily,
    daily_results,
    read_daily_series,
    read_heart_rate_zones,
    read_resting_heart_rate,
)
from ingest.fitbit.json_exercise import exercise_result
from ingest.fitbit.json_scan import JsonDamage, StampedSeries, scan_stamped_integers
from ingest.fitbit.results import guarded, quarantined
from ingest.fitbit.tables import (
    SOURCE_TAKEOUT,
    local_to_utc,
)
from ingest.salvage import (
    EXAMPLES_KEPT,
    Dropped,
    duplicates,
    implausible,
)

_VALUE_KEY = {"heart_rate": (b"bpm", False), "steps": (b"value", True)}


@dataclass
class _Scanned:
    """One intraday file reduced to minutes: naive epoch minutes and the minute's value."""

    file: FitbitFile
    member: Member
    minutes: np.ndarray
    values: np.ndarray
    span: FileSpan | None
    samples: int
    fast_path: bool
    dropped: Dropped
    cut: str | None
    repeated: Dropped
    """exact duplicate records, counted once"""
    impossible: Dropped
    """samples left out as impossible before the minute was aggregated"""


def _stamp_text(seconds: int) -> str:
    """A naive JSON stamp back as Fitbit writes it, for the examples in a file's notes."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%m/%d/%y %H:%M:%S")


def _without_repeats(series: StampedSeries) -> tuple[StampedSeries, Dropped]:
    """``series`` without records that repeat an earlier record's stamp and value exactly.

    A record written twice is one observation: two copies of a minute's steps
    must not sum to twice its steps. The first copy is kept.
    """
    repeated = duplicates()
    seconds, values = series.seconds, series.values
    if seconds.size < 2 or bool(np.all(seconds[1:] > seconds[:-1])):
        return series, repeated
    pairs = np.stack([seconds.astype(np.int64), values.astype(np.int64)], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    keep = np.zeros(seconds.size, dtype=bool)
    keep[first] = True
    if keep.all():
        return series, repeated
    dup = np.flatnonzero(~keep)
    repeated.add(
        int(dup.size),
        [
            f"record {i + 1}: dateTime={_stamp_text(seconds[i])!r}, value={int(values[i])}"
            for i in dup[:EXAMPLES_KEPT]
        ],
    )
    return replace(series, seconds=seconds[keep], values=values[keep]), repeated


def _per_minute(
    series: StampedSeries, kind: str, impossible: Dropped | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Heart-rate samples averaged per minute, or steps per minute (summed if a minute repeats).

    Impossible samples are dropped first, one by one, and counted in
    ``impossible``: heart rate outside ``PLAUSIBLE_HEART_RATE_BPM``, negative
    steps.
    """
    values, seconds = series.values, series.seconds
    if kind == "heart_rate":
        low, high = PLAUSIBLE_HEART_RATE_BPM
        keep = (values >= low) & (values <= high)
    else:
        keep = values >= 0
    if not keep.all():
        if impossible is not None:
            bad = np.flatnonzero(~keep)
            label = "bpm" if kind == "heart_rate" else "steps"
            impossible.add(
                int(bad.size),
                [
                    f"dateTime={_stamp_text(seconds[i])!r}, {label}={int(values[i])}"
                    for i in bad[:EXAMPLES_KEPT]
                ],
            )
        series = replace(series, values=values[keep], seconds=seconds[keep])
    minute = series.seconds // 60
    if minute.size and np.all(minute[1:] >= minute[:-1]):
        starts = np.flatnonzero(np.r_[True, minute[1:] != minute[:-1]])
        unique = minute[starts]
        sums = np.add.reduceat(series.values, starts) if starts.size else series.values[:0]
        counts = np.diff(np.r_[starts, minute.size])
    else:
        unique, inverse = np.unique(minute, return_inverse=True)
        sums = np.bincount(inverse, weights=series.values).astype(np.int64)
        counts = np.bincount(inverse)
    if kind == "heart_rate":
        return unique, (sums / np.maximum(counts, 1)).astype(np.float32)
    fits = sums <= np.iinfo(np.int32).max
    return unique[fits], sums[fits].astype(np.int32)


def _scan_intraday(file: FitbitFile, member: Member) -> _Scanned | ReadResult:
    key, quoted = _VALUE_KEY[file.series]
    try:
        series = scan_stamped_integers(member.load(), key, quoted)
    except JsonDamage as exc:
        return quarantined(file.kind, member.path, str(exc))
    except zipfile.BadZipFile as exc:
        return quarantined(file.kind, member.path, f"could not read the file: {exc}")
    series, repeated = _without_repeats(series)
    span = None
    if file.named_day is not None and series.seconds.size:
        span = FileSpan(
            file.named_day,
            int(series.seconds.min()),
            int(series.seconds.max()),
            file.series == "heart_rate",
        )
    impossible = implausible()
    minutes, values = _per_minute(series, file.series, impossible)
    if series.cut and file.series == "heart_rate" and minutes.size:
        # the cut may fall among the samples of the last minute: its mean would be of some of them only
        minutes, values = minutes[minutes != minutes.max()], values[minutes != minutes.max()]
    dropped = Dropped()
    dropped.extend(series.dropped)
    if (
        file.series == "steps"
        and minutes.size < np.unique(series.seconds[series.values >= 0] // 60).size
    ):
        dropped.add(
            int(np.unique(series.seconds[series.values >= 0] // 60).size - minutes.size),
            ["minutes whose steps sum past 2,147,483,647"],
        )
    return _Scanned(
        file,
        member,
        minutes,
        values,
        span,
        int(series.seconds.size),
        series.fast_path,
        dropped,
        series.cut,
        repeated,
        impossible,
    )


def _place_in_time(per_minute: pl.DataFrame, decision: ClockDecision) -> pl.DataFrame:
    """Naive minute stamps to ``minute_utc`` with ``utc_offset_minutes`` under the detected clock."""
    if decision.clock == "utc":
        placed = per_minute.with_columns(
            pl.col("stamp").dt.replace_time_zone("UTC").alias("minute_utc")
        )
    else:
        placed = per_minute.with_columns(
            local_to_utc(pl.col("stamp"), decision.timezone).alias("minute_utc")
        )
    placed = placed.drop("stamp").filter(pl.col("minute_utc").is_not_null())
    return attach_offsets(placed, decision)


def _intraday_results(scanned: list[_Scanned], decision: ClockDecision) -> dict[str, ReadResult]:
    """Minutes tables of many files of one series, placed in time together and sliced per file.

    Doing the time-zone work and the canonical cast once for all files keeps
    the per-file cost to the byte scan.
    """
    if not scanned:
        return {}
    column = "heart_rate_bpm" if scanned[0].file.series == "heart_rate" else "steps"
    lengths = np.array([s.minutes.size for s in scanned])
    frame = pl.DataFrame(
        {
            "file": np.repeat(np.arange(len(scanned), dtype=np.int32), lengths),
            "stamp": (np.concatenate([s.minutes for s in scanned]) * 60_000_000).astype(
                "datetime64[us]"
            ),
            column: np.concatenate([s.values for s in scanned]),
        }
    )
    placed = (
        _place_in_time(frame, decision)
        .with_columns(pl.lit(SOURCE_TAKEOUT).alias("source"))
        .sort("file", "minute_utc")
    )
    files = placed["file"].to_numpy()
    bounds = np.searchsorted(files, np.arange(len(scanned) + 1))
    canonical = conform(placed, MINUTES, filled_later=PIPELINE_FILLED)
    notes_common = decision.notes()
    status: Status = "ok"
    reason_text = None
    if decision.clock == "local" and decision.timezone is None:
        status = "partial"
        reason_text = (
            "stamps are local wall time and the roster has no timezone; minute_utc holds local time"
        )
    out: dict[str, ReadResult] = {}
    for i, s in enumerate(scanned):
        rows = int(bounds[i + 1] - bounds[i])
        notes: dict[str, Any] = {
            **notes_common,
            "samples": s.samples,
            "minutes": rows,
            "parser": "byte-scan" if s.fast_path else "full-json",
        }
        if rows != s.minutes.size:
            notes["minutes_in_dst_gap_dropped"] = int(s.minutes.size - rows)
        notes.update(s.dropped.notes())
        notes.update(s.repeated.notes())
        notes.update(s.impossible.notes())
        problems = [p for p in (s.cut, reason_text) if p]
        if s.cut:
            notes["cut"] = s.cut
        out[s.member.path] = ReadResult(
            kind=s.file.kind,
            status="partial" if s.cut else status,
            reason=f"{s.member.path}: {'; '.join(problems)}" if problems else None,
            tables={"minutes": canonical.slice(int(bounds[i]), rows)},
            notes=notes,
        )
    return out


def _intraday_guarded(scanned: list[_Scanned], decision: ClockDecision) -> dict[str, ReadResult]:
    """``_intraday_results`` of all files at once, or file by file when that fails, so a bad file costs only itself."""
    try:
        return _intraday_results(scanned, decision)
    except BaseException as exc:
        if must_propagate(exc):
            raise
    out: dict[str, ReadResult] = {}
    for s in scanned:
        got = guarded(s.file.kind, s.member.path, _intraday_results, [s], decision)
        out.update(got if isinstance(got, dict) else {s.member.path: got})
    return out


def read_json_family(
    files: Sequence[tuple[FitbitFile, Member]], ctx: ReadContext, bouts: BoutDecision
) -> tuple[dict[str, ReadResult], ClockDecision]:
    """Read every JSON-family member of one participant's export."""
    results: dict[str, ReadResult] = {}
    scanned: list[_Scanned] = []
    for file, member in files:
        if file.series in _VALUE_KEY:
            got = guarded(file.kind, member.path, _scan_intraday, file, member)
            if isinstance(got, ReadResult):
                results[member.path] = got
            else:
                scanned.append(got)
    spans = [s.span for s in scanned if s.span is not None]
    decision = detect_clock(spans, ctx.timezone)
    for series in _VALUE_KEY:
        results.update(_intraday_guarded([s for s in scanned if s.file.series == series], decision))
    dailies: dict[str, tuple[FitbitFile, Member, Daily]] = {}
    for file, member in files:
        if file.series in (*DAILY_COLUMNS, "resting_heart_rate", "time_in_heart_rate_zones"):
            reader = {
                "resting_heart_rate": read_resting_heart_rate,
                "time_in_heart_rate_zones": read_heart_rate_zones,
            }.get(file.series, read_daily_series)
            daily = guarded(file.kind, member.path, reader, file, member)
            if isinstance(daily, ReadResult):
                results[member.path] = daily
            else:
                dailies[member.path] = (file, member, daily)
        elif file.series == "exercise":
            results[member.path] = guarded(
                file.kind, member.path, exercise_result, file, member, decision
            )
    results.update(daily_results(dailies, decision, bouts))
    return results, decision
