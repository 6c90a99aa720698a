"""Readers for the Takeout CSV family (``Physical Activity_GoogleData/*_YYYY-MM-DD.csv``).

Every timestamp ends in ``Z`` (UTC), so no clock detection is needed; the
roster timezone, where known, gives ``utc_offset_minutes``. Each kind becomes
``minutes`` rows of its own member:

* ``active_minutes``: one row per active minute with 0/1 ``light,moderate,very`` flags;
* ``activity_level``: a level per minute (``SEDENTARY`` ... ``VERY_ACTIVE``);
* ``active_zone_minutes``: Active Zone Minutes *credits* (1 for fat burn, 2 for
  cardio or peak). irisin counts clock minutes, so each minute in a zone is one
  row, labelled moderate (fat burn) or vigorous (cardio, peak), whatever its credit;
* ``steps`` per minute and ``heart_rate`` samples averaged per minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from config.schema import INTENSITY_LEVELS, PLAUSIBLE_HEART_RATE_BPM
from ingest.contract import Member, ReadContext, ReadResult, Status
from ingest.fitbit.discovery import FitbitFile
from ingest.fitbit.results import guarded, quarantined
from ingest.fitbit.tables import (
    ACTIVITY_LEVEL_LABELS,
    SOURCE_TAKEOUT,
    minutes_table,
)
from ingest.salvage import (
    Dropped,
    UnreadableCsv,
    checked_number,
    exact_duplicates,
    examples_of,
    implausible,
    read_csv_text,
)
from ingest.zones import offsets_from_zone

HEADERS: dict[str, tuple[str, ...]] = {
    "active_minutes": ("timestamp", "light", "moderate", "very"),
    "steps": ("timestamp", "steps"),
    "heart_rate": ("timestamp", "beats per minute"),
    "activity_level": ("timestamp", "level"),
    "active_zone_minutes": ("timestamp", "heart rate zone", "total minutes"),
}
"""Columns each CSV kind must have (lower case; extra columns such as ``data source`` are allowed)."""

AZM_ZONE_LABELS: dict[str, str] = {"fat_burn": "moderate", "cardio": "vigorous", "peak": "vigorous"}
"""Active Zone Minutes heart-rate zone to the intensity irisin records for that clock minute.

Evidence for the mapping: since Active Zone Minutes (2020), Fitbit sets its
zones on the user's heart-rate reserve (Karvonen): fat burn 40-59 % HRR,
cardio 60-84 %, peak 85 % and above (Fitbit help, "What are Active Zone
Minutes?") [reported]. ACSM's moderate band is 40-59 % HRR and vigorous 60 %
and above (../shared/FORMATS.md section 5, and ``[intensity] hrr_*_percent``),
so fat burn is moderate and cardio and peak are vigorous: the device's own
heart-rate-reserve classification. Google's readme for
``active_zone_minutes_*.csv`` says "total minutes" is 1 for fat burn and 2 for
cardio or peak: credits toward a goal, not clock minutes. irisin stores one
minute row per clock minute and keeps the credits only as a file note
(``azm_credits``), never as minutes."""

_RANK = pl.DataFrame(
    {"intensity": list(INTENSITY_LEVELS), "rank": list(range(len(INTENSITY_LEVELS)))}
)


def _utc(col: str) -> pl.Expr:
    text = pl.col(col).str.strip_chars().str.strip_suffix("Z")
    return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC")


def _highest_label_per_minute(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per minute, keeping the highest intensity when a minute repeats."""
    return (
        frame.join(_RANK, on="intensity", how="inner")
        .sort("rank")
        .group_by("minute_utc")
        .agg(pl.col("intensity").last())
    )


def _count_unknown_labels(labels: pl.Series, known: pl.Series, notes: dict[str, Any]) -> None:
    """Records whose label the reader does not know: counted per label in ``notes["labels_unknown"]``.

    They add no minute, and the notes (and the intake report) say how many
    were left out, so a label Google adds later is seen, not silently lost.
    """
    unknown = labels.filter(known.is_null() & labels.is_not_null())
    if unknown.len():
        counts = unknown.value_counts(sort=True)
        notes["labels_unknown"] = {str(label): int(n) for label, n in counts.head(20).iter_rows()}
        notes["labels_unknown_records"] = int(unknown.len())


def _impossible_samples(
    text: pl.DataFrame, bad: pl.Expr, column: str, dropped: Dropped
) -> pl.DataFrame:
    """``text`` without the samples ``bad`` marks as impossible, counted with examples in ``dropped``."""
    count, examples = examples_of(text, bad, ["timestamp", column])
    dropped.add(count, examples)
    return text.filter(~bad) if count else text


def _minutes_of(
    series: str, text: pl.DataFrame, notes: dict[str, Any], impossible: Dropped
) -> pl.DataFrame:
    """Per-minute canonical columns of one parsed CSV (``minute_utc`` already set).

    Impossible samples (heart rate outside ``PLAUSIBLE_HEART_RATE_BPM``,
    negative steps) are left out before a minute is aggregated and counted in
    ``impossible``; labels the reader does not know are counted in ``notes``.
    """

    def flag(c: str) -> pl.Expr:
        return pl.col(c).str.strip_chars().cast(pl.Int8, strict=False) == 1

    if series == "active_minutes":
        label = (
            pl.when(flag("very"))
            .then(pl.lit("vigorous"))
            .when(flag("moderate"))
            .then(pl.lit("moderate"))
            .when(flag("light"))
            .then(pl.lit("light"))
        )
        return _highest_label_per_minute(
            text.select("minute_utc", label.alias("intensity")).drop_nulls()
        )
    if series == "activity_level":
        raw = pl.col("level").str.strip_chars().str.to_uppercase()
        level = raw.replace_strict(ACTIVITY_LEVEL_LABELS, default=None, return_dtype=pl.String)
        labelled = text.select("minute_utc", raw.alias("raw"), level.alias("intensity"))
        _count_unknown_labels(labelled["raw"], labelled["intensity"], notes)
        return _highest_label_per_minute(labelled.drop("raw").drop_nulls())
    if series == "active_zone_minutes":
        zone = (
            pl.col("heart rate zone")
            .str.strip_chars()
            .str.to_lowercase()
            .str.replace_all(r"[\s\-]+", "_")
        )
        credits = pl.col("total minutes").str.strip_chars().cast(pl.Int32, strict=False)
        zoned = text.select(
            "minute_utc",
            zone.alias("zone"),
            zone.replace_strict(AZM_ZONE_LABELS, default=None, return_dtype=pl.String).alias(
                "intensity"
            ),
            credits.alias("credits"),
        )
        _count_unknown_labels(zoned["zone"], zoned["intensity"], notes)
        zoned = zoned.drop("zone")
        notes["azm_credits"] = int(zoned["credits"].sum() or 0)
        per_minute = _highest_label_per_minute(zoned.drop_nulls("intensity"))
        notes["azm_clock_minutes"] = per_minute.height
        return per_minute
    if series == "steps":
        steps = checked_number(pl.col("steps"), pl.Int64())
        text = _impossible_samples(text, steps < 0, "steps", impossible)
        summed = text.group_by("minute_utc").agg(steps.sum())
        return summed.filter(pl.col("steps") <= 2**31 - 1).with_columns(
            pl.col("steps").cast(pl.Int32)
        )
    bpm = checked_number(pl.col("beats per minute"), pl.Float32())
    text = _impossible_samples(
        text, ~bpm.is_between(*PLAUSIBLE_HEART_RATE_BPM), "beats per minute", impossible
    )
    return text.group_by("minute_utc").agg(bpm.mean().alias("heart_rate_bpm"))


VALUE_COLUMNS: dict[str, tuple[str, pl.DataType]] = {
    "steps": ("steps", pl.Int32()),
    "heart_rate": ("beats per minute", pl.Float32()),
}
"""The numeric column of each series whose records are dropped when it cannot be read."""


def _drop_unreadable(series: str, text: pl.DataFrame, dropped: Dropped) -> pl.DataFrame:
    """``text`` without records whose timestamp (or numeric value) cannot be read; counted in ``dropped``."""
    bad = pl.col("minute_utc").is_null()
    shown = ["timestamp"]
    if series in VALUE_COLUMNS:
        column, dtype = VALUE_COLUMNS[series]
        bad = bad | checked_number(pl.col(column), dtype).is_null()
        shown.append(column)
    count, examples = examples_of(text, bad, shown)
    dropped.add(count, examples)
    return text.filter(~bad) if count else text


def read_csv_member(file: FitbitFile, member: Member, ctx: ReadContext) -> ReadResult:
    """One CSV-family file to a ``minutes`` table, or a quarantine result naming the problem.

    An empty or header-only file is ``ok`` with no rows; records whose
    timestamp or value cannot be read are dropped and counted in the notes;
    the file is ``partial`` only when it is cut mid-record.
    """
    try:
        csv_text = read_csv_text(member.load())
    except UnreadableCsv as exc:
        return quarantined(file.kind, member.path, f"not a readable CSV: {exc}")
    text = csv_text.frame
    if not text.columns:
        return ReadResult(kind=file.kind, notes={"rows": 0, "minutes": 0})
    text = text.rename({c: c.strip().lower() for c in text.columns})
    expected = HEADERS[file.series]
    if not set(expected) <= set(text.columns):
        return quarantined(
            file.kind,
            member.path,
            f"header {','.join(text.columns)!r} is not the expected {','.join(expected)!r}",
        )
    rows = text.height + csv_text.dropped.count
    text, repeated = exact_duplicates(text)
    text = text.with_columns(_utc("timestamp").alias("minute_utc"))
    dropped = csv_text.dropped
    text = _drop_unreadable(file.series, text, dropped).with_columns(
        pl.col("minute_utc").dt.truncate("1m")
    )
    if rows and text.height == 0:
        return quarantined(
            file.kind,
            member.path,
            f"none of its {rows} records can be read ({'; '.join(dropped.examples[:3])})",
        )
    notes: dict[str, Any] = {"rows": rows, "clock": "utc (stamps end in Z)"}
    impossible = implausible()
    frame = _minutes_of(file.series, text, notes, impossible)
    offset = (
        offsets_from_zone(pl.col("minute_utc"), ctx.timezone)
        if ctx.timezone
        else pl.lit(None, dtype=pl.Int16)
    )
    frame = frame.with_columns(
        offset.alias("utc_offset_minutes"), pl.lit(SOURCE_TAKEOUT).alias("source")
    )
    notes["minutes"] = frame.height
    notes.update(dropped.notes())
    notes.update(repeated.notes())
    notes.update(impossible.notes())
    status: Status = "ok"
    reason = None
    if csv_text.cut:
        status = "partial"
        reason = f"{member.path}: {csv_text.cut}"
        notes["cut"] = csv_text.cut
    return ReadResult(
        kind=file.kind,
        status=status,
        reason=reason,
        tables={"minutes": minutes_table(frame)},
        notes=notes,
    )


def read_csv_family(
    files: Sequence[tuple[FitbitFile, Member]], ctx: ReadContext
) -> dict[str, ReadResult]:
    """Read every CSV-family member of one participant's export."""
    return {
        member.path: guarded(file.kind, member.path, read_csv_member, file, member, ctx)
        for file, member in files
    }
