"""Reader for Fitabase CSV exports (``*_merged.csv``), one export holding many participants.

Each file is read as text with polars, its header checked against the
columns the kind needs (extra columns are allowed: Excel copies add some),
and its local wall times resolved by ``fitabase_time`` (which also reads
Excel-mangled copies where that is unambiguous). ``Id`` maps to a roster
participant through ``ctx.id_map``, or is used as-is with
``ctx.participant_from_id``; rows of unmapped Ids are left out and named in
the reason. Minute intensity files are read first so the export's daily
figures can be checked against them to decide ``bouted`` (see ``bouting``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from config.schema import PLAUSIBLE_HEART_RATE_BPM
from ingest.contract import Member, ReadContext, ReadResult, Status
from ingest.fitbit.bouting import (
    compare_with_daily,
    daily_mvpa_from_minutes,
    decide,
    fitbit_default,
)
from ingest.fitbit.discovery import FITABASE_FILES, FITABASE_UNUSED, fitabase_stem
from ingest.fitbit.fitabase_files import (
    SPECS,
    FileSpec,
    daily_frame,
    minute_frame,
    per_minute_heart_rate,
)
from ingest.fitbit.fitabase_time import AmbiguousStamps, parse_local_stamps
from ingest.fitbit.fitabase_zones import place, zone_groups
from ingest.fitbit.results import guarded, quarantined, skipped
from ingest.fitbit.tables import (
    daily_table,
    local_to_utc,
    minutes_table,
)
from ingest.salvage import (
    CsvText,
    Dropped,
    UnreadableCsv,
    checked_number,
    exact_duplicates,
    examples_of,
    implausible,
    read_csv_text,
)
from ingest.zones import offsets_from_zone

_SPLIT_DATE_COLUMNS = ("Date", "ActivityDate", "ActivityDay", "SleepDay")
_TIME_ONLY = r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*([AaPp][Mm])?\s*$"


class FileProblem(ValueError):
    """A Fitabase file irisin refuses, with the reason to show."""


def _kind(suffix: str) -> str:
    return f"fitabase_{suffix}"


def _header_and_first_row(text: pl.DataFrame) -> str:
    first = (
        ",".join("" if v is None else str(v) for v in text.row(0)) if text.height else "(no rows)"
    )
    return f"header {','.join(text.columns)!r}, first row {first!r}"


def _read_text(member: Member) -> CsvText:
    try:
        return read_csv_text(member.load())
    except UnreadableCsv as exc:
        raise FileProblem(f"not a readable CSV: {exc}") from None


def _stamps(text: pl.DataFrame, spec: FileSpec) -> tuple[pl.Series, dict[str, Any]]:
    """Naive local datetimes of each row, handling Excel's split date/time columns."""
    (time_col,) = spec.time_columns
    column = text[time_col]
    if column.str.contains(_TIME_ONLY).all():
        date_col = next(
            (c for c in _SPLIT_DATE_COLUMNS if c in text.columns and c != time_col), None
        )
        if date_col is None:
            raise FileProblem(
                f"{time_col} holds times only and no date column was found; {_header_and_first_row(text)}"
            )
        parsed = parse_local_stamps(text["Id"], text[date_col], column)
    else:
        parsed = parse_local_stamps(text["Id"], column, None)
    return parsed.local, parsed.notes


def _check_header(text: pl.DataFrame, spec: FileSpec) -> None:
    needed = ["Id", *spec.time_columns, *spec.values]
    missing = [c for c in needed if c not in text.columns]
    if spec.wide_prefix is not None:
        wide = [f"{spec.wide_prefix}{m:02d}" for m in range(60)]
        missing += [c for c in wide if c not in text.columns][:3]
    if missing:
        raise FileProblem(f"missing columns {missing}; {_header_and_first_row(text)}")


def _participants(ids: pl.Series, ctx: ReadContext) -> tuple[pl.Series, list[str]]:
    """Roster participant per row (null where the Id maps to nobody) and the unmapped Ids."""
    if ctx.participant_from_id:
        return ids.alias("participant_id"), []
    mapping = pl.DataFrame(
        {"Id": list(ctx.id_map.keys()), "participant_id": list(ctx.id_map.values())},
        schema={"Id": pl.String, "participant_id": pl.String},
    )
    mapped = pl.DataFrame({"Id": ids}).join(mapping, on="Id", how="left", maintain_order="left")[
        "participant_id"
    ]
    unmapped = sorted(ids.filter(mapped.is_null()).unique().to_list())
    return mapped, unmapped


@dataclass
class _Rows:
    """Rows of one file after time and participant resolution."""

    frame: pl.DataFrame  # participant_id, local (naive datetime), value columns
    notes: dict[str, Any]
    unmapped: list[str]
    dropped: Dropped
    cut: str | None = None


def _resolve(text: pl.DataFrame, spec: FileSpec, ctx: ReadContext) -> _Rows:
    local, notes = _stamps(text, spec)
    participant, unmapped = _participants(text["Id"], ctx)
    frame = text.with_columns(local.alias("local"), participant.alias("participant_id"))
    dropped = Dropped()
    bad = pl.col("local").is_null()
    if (
        spec.wide_prefix is None and len(spec.values) == 1
    ):  # a record of one value is nothing without it
        bad = bad | checked_number(pl.col(spec.values[0]), spec.value_type).is_null()
    dropped.add(*examples_of(frame, bad, ["Id", *spec.time_columns, *spec.values]))
    frame = frame.filter(~bad & pl.col("participant_id").is_not_null())
    return _Rows(frame, notes, unmapped, dropped)


def _outcome(kind: str, path: str, rows: _Rows, n_rows: int) -> tuple[Status, str | None]:
    problems = []
    if rows.unmapped:
        shown = ", ".join(rows.unmapped[:20]) + (" ..." if len(rows.unmapped) > 20 else "")
        problems.append(f"Ids not in the roster (rows left out): {shown}")
    if rows.cut:
        problems.append(rows.cut)
    if not problems:
        return "ok", None
    status: Status = "quarantined" if rows.frame.height == 0 and n_rows > 0 else "partial"
    return status, f"{path}: " + "; ".join(problems)


def _read_one(
    suffix: str, member: Member, ctx: ReadContext
) -> tuple[_Rows, pl.DataFrame, int] | ReadResult:
    spec = SPECS[suffix]
    try:
        csv_text = _read_text(member)
        text = csv_text.frame
        if not text.columns:
            return ReadResult(kind=_kind(suffix), notes={"rows": 0})
        text = text.rename({c: c.strip() for c in text.columns})
        _check_header(text, spec)
    except FileProblem as exc:
        return quarantined(_kind(suffix), member.path, str(exc))
    if text.height == 0:
        return ReadResult(kind=_kind(suffix), notes={"rows": 0, **csv_text.dropped.notes()})
    n_rows = text.height + csv_text.dropped.count
    text, repeated = exact_duplicates(text)
    try:
        rows = _resolve(text, spec, ctx)
    except FileProblem as exc:
        return quarantined(_kind(suffix), member.path, str(exc))
    except AmbiguousStamps as exc:
        return quarantined(
            _kind(suffix),
            member.path,
            f"ambiguous dates or times ({exc}); {_header_and_first_row(text)}",
        )
    rows.cut = csv_text.cut
    dropped = Dropped()
    dropped.extend(csv_text.dropped)
    dropped.extend(rows.dropped)
    rows.dropped = dropped
    rows.notes.update(repeated.notes())
    if rows.frame.height == 0 and dropped.count and not rows.unmapped:
        return quarantined(
            _kind(suffix),
            member.path,
            f"none of its {n_rows} records can be read ({'; '.join(dropped.examples[:3])})",
        )
    return rows, text, n_rows


def read_fitabase_export(members: Sequence[Member], ctx: ReadContext) -> dict[str, ReadResult]:
    """Read every recognised ``*_merged.csv`` of a Fitabase export (see module doc)."""
    results: dict[str, ReadResult] = {}
    by_suffix: dict[str, list[Member]] = {}
    for m in members:
        stem = fitabase_stem(m.path)
        if stem in FITABASE_FILES:
            by_suffix.setdefault(FITABASE_FILES[stem], []).append(m)
        elif stem in FITABASE_UNUSED:
            results[m.path] = skipped(
                f"fitabase_{stem}",
                m.path,
                "known Fitabase file without a canonical table (hourly sums, calories, sleep or weight)",
            )
    minute_labels: list[pl.DataFrame] = []
    minute_suffixes = [s for s in SPECS if s.startswith(("minute_", "heartrate_"))]
    for suffix in minute_suffixes:
        for member in by_suffix.get(suffix, []):
            got = guarded(_kind(suffix), member.path, _read_minute_file, suffix, member, ctx)
            if isinstance(got, ReadResult):
                results[member.path] = got
                continue
            result, labels = got
            results[member.path] = result
            if labels is not None:
                minute_labels.append(labels)
    minute_days = daily_mvpa_from_minutes(pl.concat(minute_labels)) if minute_labels else None
    for suffix in ("daily_activity", "daily_intensities", "daily_steps"):
        for member in by_suffix.get(suffix, []):
            results[member.path] = guarded(
                _kind(suffix), member.path, _read_daily_file, suffix, member, minute_days, ctx
            )
    return results


def _read_daily_file(
    suffix: str, member: Member, minute_days: pl.DataFrame | None, ctx: ReadContext
) -> ReadResult:
    got = _read_one(suffix, member, ctx)
    if isinstance(got, ReadResult):
        return got
    rows, _text, n_rows = got
    return _daily_result(suffix, member, rows, n_rows, minute_days, ctx)


def _read_minute_file(
    suffix: str, member: Member, ctx: ReadContext
) -> tuple[ReadResult, pl.DataFrame | None] | ReadResult:
    """One minute-level file's result, and its (participant, local minute, intensity) labels for the bout check."""
    got = _read_one(suffix, member, ctx)
    if isinstance(got, ReadResult):
        return got
    rows, _text, n_rows = got
    labels = None
    frame = minute_frame(suffix, rows.frame, SPECS[suffix])
    if SPECS[suffix].wide_prefix is not None:
        value = next(c for c in ("intensity", "steps") if c in frame.columns)
        lost = frame.filter(pl.col(value).is_null()).height
        if lost:
            rows.dropped.add(lost, [f"{lost} minute values of the wide table are not numbers"])
            frame = frame.filter(pl.col(value).is_not_null())
    if "intensity" in frame.columns:
        labels = frame.select("participant_id", pl.col("local").alias("local_minute"), "intensity")
    impossible = implausible()
    if suffix == "heartrate_seconds":
        bpm = pl.col("heart_rate_bpm")
        bad = bpm.is_not_null() & ~bpm.is_between(*PLAUSIBLE_HEART_RATE_BPM)
        impossible.add(
            *examples_of(
                frame.with_columns(pl.col("local").dt.strftime("%Y-%m-%d %H:%M:%S")),
                bad,
                ["participant_id", "local", "heart_rate_bpm"],
                "sample",
            )
        )
    placed, in_gap = place(frame, ctx)
    if suffix == "heartrate_seconds":
        placed = per_minute_heart_rate(placed)
    status, reason = _outcome(_kind(suffix), member.path, rows, n_rows)
    result = ReadResult(
        kind=_kind(suffix),
        status=status,
        reason=reason,
        tables={"minutes": minutes_table(placed.drop("local"))},
        notes={
            **rows.notes,
            "rows": n_rows,
            "minutes": placed.height,
            "rows_in_spring_dst_gap_dropped": in_gap,
            "timezone": ctx.timezone or "UTC (none in roster)",
            **rows.dropped.notes(),
            **impossible.notes(),
        },
    )
    return result, labels


def _daily_result(
    suffix: str,
    member: Member,
    rows: _Rows,
    n_rows: int,
    minute_days: pl.DataFrame | None,
    ctx: ReadContext,
) -> ReadResult:
    provisional = daily_frame(suffix, rows.frame, fitbit_default())
    bouts = fitbit_default()
    if minute_days is not None and {"moderate_minutes", "vigorous_minutes"} <= set(
        provisional.columns
    ):
        bouts = decide(compare_with_daily(minute_days, provisional))
    frame = provisional.with_columns(pl.lit(bouts.bouted).alias("bouted"))
    midnight = pl.col("local_date").cast(pl.Datetime("us"))
    frame = pl.concat(
        [
            part.with_columns(
                (
                    offsets_from_zone(local_to_utc(midnight, tz), tz)
                    if tz
                    else pl.lit(0, dtype=pl.Int16)
                ).alias("utc_offset_minutes")
            )
            for tz, part in zone_groups(frame, ctx)
        ],
        how="vertical_relaxed",
    )
    status, reason = _outcome(_kind(suffix), member.path, rows, n_rows)
    notes = {
        **rows.notes,
        "rows": n_rows,
        "bouted": bouts.bouted,
        "bouted_basis": bouts.basis,
        **bouts.evidence,
    }
    if "worn" in frame.columns:
        notes["days_not_worn"] = frame.filter(~pl.col("worn")).height
    values = [c for c in SPECS[suffix].values if c in rows.frame.columns]
    unreadable = pl.any_horizontal(
        [pl.col(c).is_not_null() & checked_number(pl.col(c), pl.Int32()).is_null() for c in values]
    )
    count, examples = examples_of(rows.frame, unreadable, ["Id", *values])
    if count:
        notes["values_unreadable_read_as_null"] = count
        notes["values_unreadable_examples"] = examples
    notes.update(rows.dropped.notes())
    return ReadResult(
        kind=_kind(suffix),
        status=status,
        reason=reason,
        tables={"daily_totals": daily_table(frame)},
        notes=notes,
    )
