"""Local wall times of Fitabase exports, including copies re-saved by Excel.

Fitabase writes ``M/D/YYYY h:mm:ss AM/PM``. Copies that went through Excel in
a day-first locale are common and inconsistent *within one file*: values
Excel could read as day-first dates were converted (``4/12/2016`` became
``04-12-2016``, really 12 April), the others stayed text and were rewritten
day-first (``13-04-2016``); the date may be split from the time into its own
column, and the AM/PM of the text rows may be lost (``12:00:00 PM`` for
midnight, ``1:00:00 AM`` for 1 PM).

The rules, all vectorised over the column:

* **Day and month.** A value whose first or second number exceeds 12 can be
  read only one way: it is an *anchor*. Rows of one ``Id`` are in time order
  in every Fitabase export, so a value readable both ways must fall between
  the anchors before and after it for the same Id; when both readings do, the
  one nearer to those anchors is taken, and when neither does (or both are
  equally near) the file is ambiguous. Without any anchor, ``/``-separated
  values are read month-first (Fitabase's own format) and anything else is
  ambiguous.
* **Hours.** Within each participant and local day, rows are in time order in
  every Fitabase export. Where the stated times jump back by hours (not the
  single hour of an autumn DST fold), the AM/PM labels are known to be broken; the day's hours are then rebuilt from the 12-hour
  labels and their order (the second pass through 12, 1, 2, ... is afternoon),
  provided the day starts at a 12 o'clock label (midnight). Days that cannot be
  rebuilt are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

AM_PM_JUMP_HOURS = 2
"""A backward step of at least this many hours within a day means broken AM/PM labels (a DST fold steps back 1 h)."""

_DATE = r"^\s*(\d{1,4})[/\-.](\d{1,2})[/\-.](\d{2,4})(?:[ T]+(.*?))?\s*$"
_TIME = r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*$"


class AmbiguousStamps(ValueError):
    """Dates or times that cannot be read one way only."""


@dataclass
class ParsedStamps:
    """Naive local datetimes aligned with the input rows (null where a row was dropped)."""

    local: pl.Series
    notes: dict[str, Any] = field(default_factory=dict)


def _per_distinct(text: pl.Series, parse: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    """``parse`` applied to the distinct values of ``text`` only, aligned back to every row.

    A Fitabase minute file repeats each stamp once per participant and each
    date 1440 times, so parsing distinct strings does a fraction of the work.
    """
    distinct = text.unique()
    parsed = parse(distinct).with_columns(distinct.alias("_text"))
    return (
        pl.DataFrame({"_text": text})
        .join(parsed, on="_text", how="left", maintain_order="left", nulls_equal=True)
        .drop("_text")
    )


def _date_candidates(text: pl.Series) -> pl.DataFrame:
    return _per_distinct(text, _date_candidates_of)


def _date_candidates_of(text: pl.Series) -> pl.DataFrame:
    parts = text.str.extract_groups(_DATE).struct.unnest()
    parts.columns = ["a", "b", "c", "rest"]
    a, b, c = (pl.col(n).cast(pl.Int32, strict=False) for n in ("a", "b", "c"))
    year = pl.when(c < 100).then(c + 2000).otherwise(c)
    iso = pl.col("a").str.len_chars() == 4

    def ymd(y: pl.Expr, m: pl.Expr, d: pl.Expr) -> pl.Expr:
        return pl.format(
            "{}-{}-{}", y, m.cast(pl.String).str.zfill(2), d.cast(pl.String).str.zfill(2)
        ).str.to_date("%Y-%m-%d", strict=False)

    return parts.with_columns(
        pl.when(iso).then(ymd(a, b, c)).otherwise(ymd(year, a, b)).alias("month_first"),
        pl.when(iso).then(ymd(a, b, c)).otherwise(ymd(year, b, a)).alias("day_first"),
        text.str.contains("/").alias("slash"),
    )


def resolve_dates(ids: pl.Series, text: pl.Series) -> tuple[pl.Series, dict[str, Any]]:
    """Dates of a column of ``a?b?yyyy`` values, read by the neighbour rule (module doc).

    Rows of one ``Id`` are in time order, so a value readable both ways must
    lie between the one-way dates (anchors) before and after it for the same
    Id; of the readings that do, the one nearer to those anchors is taken.
    Raises AmbiguousStamps when a value cannot be placed one way only.
    """
    cand = _date_candidates(text).with_columns(ids.alias("id"))
    mf, df = pl.col("month_first"), pl.col("day_first")
    unreadable = cand.filter(mf.is_null() & df.is_null()).height
    if unreadable:
        example = text.filter(cand["month_first"].is_null() & cand["day_first"].is_null())[0]
        raise AmbiguousStamps(f"{unreadable} values are not dates, e.g. {example!r}")
    one_way = mf.is_null() | df.is_null() | (mf == df)
    two_way = cand.filter(~one_way).height
    notes: dict[str, Any] = {"date_values_two_way": two_way}
    if two_way == 0:
        notes["date_rule"] = "every date reads one way only"
        return cand.select(pl.coalesce(mf, df).alias("date")).to_series(), notes
    if cand.filter(mf.is_null() | df.is_null()).height == 0:
        if cand["slash"].all():
            notes["date_rule"] = (
                "no day above 12 anywhere; read month-first as Fitabase writes M/D/YYYY"
            )
            return cand["month_first"].alias("date"), notes
        first = text.filter(cand["month_first"] != cand["day_first"])[0]
        raise AmbiguousStamps(
            f"no date has a day above 12 and the separator is not Fitabase's '/', so day and month "
            f"cannot be told apart (e.g. {first!r})"
        )
    anchor = pl.when(one_way).then(pl.coalesce(mf, df))
    framed = cand.with_columns(
        anchor.forward_fill().over("id").alias("before"),
        anchor.backward_fill().over("id").alias("after"),
    )

    before, after = pl.col("before"), pl.col("after")
    # Copies that concatenate two export periods restart an Id's dates: where the anchor
    # after a row is earlier than the one before it, the row continues either run.
    in_order = before.is_null() | after.is_null() | (before <= after)

    def fits(d: pl.Expr) -> pl.Expr:
        """The reading exists and keeps the Id's dates in order with its neighbouring anchors."""
        after_before = before.is_null() | (d >= before)
        before_after = after.is_null() | (d <= after)
        return d.is_not_null() & pl.when(in_order).then(after_before & before_after).otherwise(
            after_before | before_after
        )

    def gap(d: pl.Expr) -> pl.Expr:
        """Days to the nearer neighbouring anchor the reading is in order with."""
        return pl.min_horizontal(
            pl.when(d >= before).then((d - before).dt.total_days()),
            pl.when(d <= after).then((after - d).dt.total_days()),
        )

    mf_fits, df_fits = fits(mf), fits(df)
    resolved = framed.select(
        pl.when(one_way)
        .then(pl.coalesce(mf, df))
        .when(mf_fits & ~df_fits)
        .then(mf)
        .when(df_fits & ~mf_fits)
        .then(df)
        .when(mf_fits & df_fits & (gap(mf) < gap(df)))
        .then(mf)
        .when(mf_fits & df_fits & (gap(df) < gap(mf)))
        .then(df)
        .alias("date")
    ).to_series()
    open_values = resolved.null_count()
    if open_values:
        example = text.filter(resolved.is_null())[0]
        raise AmbiguousStamps(
            f"{open_values} dates fit between their neighbouring unambiguous dates both ways "
            f"or neither way, e.g. {example!r}"
        )
    notes["date_rule"] = (
        "two-way dates placed between the one-way dates before and after them (same Id)"
    )
    read_mf = cand.filter(~one_way & (mf == resolved)).height
    notes["two_way_dates_read_month_first"] = read_mf
    notes["two_way_dates_read_day_first"] = two_way - read_mf
    return resolved, notes


def _time_parts(text: pl.Series) -> pl.DataFrame:
    return _per_distinct(text, _time_parts_of)


def _time_parts_of(text: pl.Series) -> pl.DataFrame:
    parts = text.str.extract_groups(_TIME).struct.unnest()
    parts.columns = ["h", "m", "s", "ampm"]
    return parts.select(
        pl.col("h").cast(pl.Int32, strict=False),
        pl.col("m").cast(pl.Int32, strict=False),
        pl.col("s").cast(pl.Int32, strict=False).fill_null(0),
        pl.col("ampm").str.to_uppercase(),
    )


def parse_local_stamps(
    ids: pl.Series, date_text: pl.Series, time_text: pl.Series | None
) -> ParsedStamps:
    """Naive local datetimes from a Fitabase date(-time) column and an optional split-off time column."""
    if time_text is None:
        # "M/D/YYYY h:mm:ss AM": few distinct dates, so split before parsing
        parts = date_text.str.strip_chars().str.splitn(" ", 2).struct.unnest()
        date_text, time_text = (
            parts[parts.columns[0]],
            parts[parts.columns[1]].fill_null("00:00:00"),
        )
        dates, notes = resolve_dates(ids, date_text)
    else:
        dates, notes = resolve_dates(ids, date_text)
        notes["time_column"] = "separate"
    t = _time_parts(time_text)
    bad_time = t.filter(pl.col("h").is_null() | pl.col("m").is_null()).height
    if bad_time:
        example = time_text.filter(t["h"].is_null() | t["m"].is_null())[0]
        raise AmbiguousStamps(f"{bad_time} time values are not h:mm[:ss] [AM/PM], e.g. {example!r}")
    frame = pl.DataFrame({"id": ids, "date": dates}).hstack(t).with_row_index("row")
    h12 = pl.col("h") % 12
    hour = (
        pl.when(pl.col("ampm") == "PM")
        .then(h12 + 12)
        .when(pl.col("ampm") == "AM")
        .then(h12)
        .otherwise(pl.col("h"))
    )
    clock = pl.duration(hours=hour, minutes=pl.col("m"), seconds=pl.col("s"))
    frame = frame.with_columns((pl.col("date").cast(pl.Datetime("us")) + clock).alias("stated"))
    if frame["ampm"].is_null().all():  # 24-hour or date-only values: no AM/PM to repair
        return ParsedStamps(frame["stated"], notes)
    day = ["id", "date"]
    # Lost AM/PM labels make the stated time jump back 11 hours or more (noon -> 1 AM);
    # an autumn DST fold only repeats one hour, which is real and left alone.
    frame = frame.with_columns(
        (pl.col("stated").diff() <= -pl.duration(hours=AM_PM_JUMP_HOURS))
        .fill_null(False)
        .any()
        .over(day)
        .alias("backwards")
    )
    broken_days = frame.filter(pl.col("backwards")).select(day).unique().height
    notes["days_with_broken_am_pm"] = broken_days
    if broken_days == 0:
        return ParsedStamps(frame["stated"], notes)
    wraps = (h12.diff() < 0).fill_null(False).cum_sum().over(day)
    rebuilt = (
        frame.with_columns(
            (h12 + 12 * wraps).alias("hour24"),
            (h12.first().over(day) == 0).alias("starts_at_midnight"),
        )
        .with_columns(
            (
                pl.col("date").cast(pl.Datetime("us"))
                + pl.duration(hours="hour24", minutes="m", seconds="s")
            ).alias("rebuilt")
        )
        .with_columns(
            (
                pl.col("starts_at_midnight")
                & (pl.col("hour24").max().over(day) < 24)
                & (
                    pl.col("rebuilt").diff().fill_null(pl.duration(seconds=1))
                    > pl.duration(seconds=0)
                )
                .all()
                .over(day)
            ).alias("rebuildable")
        )
    )
    local = rebuilt.select(
        pl.when(~pl.col("backwards"))
        .then("stated")
        .when(pl.col("rebuildable"))
        .then("rebuilt")
        .alias("local")
    ).to_series()
    unrebuilt = (
        rebuilt.filter(pl.col("backwards") & ~pl.col("rebuildable")).select(day).unique().height
    )
    notes["days_am_pm_rebuilt_from_order"] = broken_days - unrebuilt
    notes["days_dropped_unrebuildable_am_pm"] = unrebuilt
    return ParsedStamps(local, notes)
