"""Records dated where no record can be: before the device family existed, or in the future.

A FIT file can carry a valid CRC and still be stamped 1998 or 2126 (a device
whose clock was never set, or was set wrong). Such rows are not data about
any week of the study: left in, one of them moves the whole cohort's "this
week" to 2126 and flags everyone else "no data for 240 days". The rule, per
row of every canonical table:

* not before ``FAMILY_EPOCH`` of the row's ``source`` (the first day a device
  of that family could have recorded it; the dates are deliberately early, so
  a real record is never lost to them);
* not after the run's clock plus ``CLOCK_SLACK`` (a day: local dates run up
  to 14 h ahead of UTC, and a participant's device clock a little fast is
  still their data).

Rows outside are left out and counted in the file's notes with the first few
examples; a file none of whose rows is inside is held (quarantined) with the
reason, so its bytes are kept and it is tried again by a later version.
Pure functions over Arrow tables; the ingest pipeline calls them with its
clock.

A file that says itself when it was written after all its records (Apple
Health's ``ExportDate``; the reader puts it in the notes under
``WRITTEN_KEY``) lowers the ceiling to that time plus a day.

A file that says when it was *opened* (FIT ``file_id.time_created``; the
reader puts it under ``CREATED_KEY``) lowers the ceiling to that time plus
``CREATED_SLACK`` (31 days). Creation is when a device opened the file, not
an upper bound for its records: in the shared corpus ``MonitoringFile.fit``
runs 61 h past it and ``big_activity.fit`` 28 h (the other 40 activity
files at most 5 h), and Garmin's expedition mode keeps one activity file
open for weeks. A month past creation is far beyond any of those, yet it
still catches a record dated years after its own file was opened (a
corrupted or reset clock inside a file) long before the run's clock would.
The reader leaves out a creation time before the family's epoch (a device
whose clock was not yet set when it opened the file), so an unset clock at
creation never cuts records written after the clock was set. A file's
modification time is not used: zip members are often stamped 1980-01-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from ingest.salvage import EXAMPLES_KEPT, Dropped

CLOCK_SLACK = timedelta(days=1)

FAMILY_EPOCH: dict[str, date] = {
    "fit_monitoring": date(2008, 1, 1),  # first FIT devices (Edge 500, Forerunner 310XT) 2009
    "fit_activity": date(2008, 1, 1),
    "fitbit_takeout": date(2009, 1, 1),  # the first Fitbit tracker shipped in September 2009
    "fitabase": date(2009, 1, 1),
    "fitbit_hr_zones": date(2009, 1, 1),
    "apple_health": date(
        2007, 1, 1
    ),  # HealthKit 2014; apps may write older records, the iPhone is 2007
    "garmin_export": date(2000, 1, 1),  # Garmin Connect imports activities of older GPS devices
    "activity_xml": date(2000, 1, 1),  # GPX 1.0 is 2002
}
"""First day a record of each source could have been recorded."""

DEFAULT_EPOCH = date(2000, 1, 1)
"""For a source without its own entry in ``FAMILY_EPOCH``."""

TIME_COLUMNS: dict[str, str] = {
    "minutes": "minute_utc",
    "daily_totals": "local_date",
    "sessions": "start_utc",
    "profiles": "observed_utc",
}
"""The column that dates each row of each canonical table."""

NOTES_KEY = "times_implausible_dropped"


CREATED_SLACK = timedelta(days=31)
"""How far past a file's own creation time (``CREATED_KEY``) a record may be dated (see module doc)."""

CREATED_KEY = "created_utc"
"""Notes key a reader sets (ISO 8601, UTC) to the time the device opened the file (FIT
``file_id.time_created``); the ceiling for that file is lowered to it plus ``CREATED_SLACK``."""

WRITTEN_KEY = "written_utc"
"""Notes key a reader sets (ISO 8601, UTC) when the file itself says when it was written, after
every record in it (Apple Health's ``ExportDate``); it lowers the ceiling for that file."""


@dataclass(frozen=True)
class Window:
    """The plausible time span of a run: ``ceiling`` is the run's clock plus ``CLOCK_SLACK``."""

    ceiling: datetime
    why: str = "after the run's clock plus a day"

    @classmethod
    def at(cls, clock: datetime) -> Window:
        return cls(clock.astimezone(UTC) + CLOCK_SLACK)

    def for_file(self, written: str | None, created: str | None = None) -> Window:
        """This window, lowered to the file's own written time plus a day, or its creation time
        plus ``CREATED_SLACK``, where the file states either (the lowest ceiling wins)."""
        window = self
        for stamp, slack, why in (
            (written, CLOCK_SLACK, "after the file's own creation time ({}) plus a day"),
            (created, CREATED_SLACK, "more than 31 days after the file was opened ({})"),
        ):
            if not stamp:
                continue
            try:
                ceiling = datetime.fromisoformat(stamp).astimezone(UTC) + slack
            except ValueError:
                continue
            if ceiling < window.ceiling:
                window = Window(ceiling, why.format(stamp))
        return window


def _as_type(day: date, dtype: pa.DataType) -> date | datetime:
    """``day`` (or the start of it, UTC) as a value comparable with a column of ``dtype``."""
    if pa.types.is_date(dtype):
        return day
    start = datetime.combine(day, datetime.min.time(), UTC)
    return start if getattr(dtype, "tz", None) else start.replace(tzinfo=None)


def _ceiling(window: Window, dtype: pa.DataType) -> date | datetime:
    if pa.types.is_date(dtype):
        return window.ceiling.date()
    return window.ceiling if getattr(dtype, "tz", None) else window.ceiling.replace(tzinfo=None)


def _lower_bounds(sources: pa.ChunkedArray, dtype: pa.DataType) -> pa.Array | pa.Scalar:
    """The epoch of each row's source, as one scalar when the table has one source (the usual case)."""
    unique = pc.unique(sources)
    epochs = [_as_type(FAMILY_EPOCH.get(s, DEFAULT_EPOCH), dtype) for s in unique.to_pylist()]
    if len(epochs) == 1:
        return pa.scalar(epochs[0], dtype)
    return pc.take(pa.array(epochs, dtype), pc.index_in(sources, value_set=unique))


def within_window(
    tables: dict[str, pa.Table], window: Window
) -> tuple[dict[str, pa.Table], Dropped]:
    """``tables`` without rows dated outside ``window`` (see module doc), and those rows counted.

    A null date (an optional ``observed_utc``) is kept: it claims no time.
    """
    dropped = Dropped(key=NOTES_KEY)
    out: dict[str, pa.Table] = {}
    for name, table in tables.items():
        column_name = TIME_COLUMNS.get(name)
        if (
            column_name is None
            or table.num_rows == 0
            or column_name not in table.column_names
            or "source" not in table.column_names
        ):
            out[name] = table
            continue
        column = table.column(column_name)
        sources = table.column("source")
        if not (pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)):
            out[name] = table
            continue
        if _all_inside(column, sources, window):  # the usual case: no per-row masks
            out[name] = table
            continue
        lows = _lower_bounds(sources, column.type)
        high = pa.scalar(_ceiling(window, column.type), column.type)
        early = pc.fill_null(pc.less(column, lows), False)
        late = pc.fill_null(pc.greater(column, high), False)
        outside = pc.or_(early, late)
        count = pc.sum(outside).as_py() or 0
        if not count:
            out[name] = table
            continue
        rows = pc.indices_nonzero(outside).to_pylist()[:EXAMPLES_KEPT]
        shown = []
        for i in rows:
            value = column[i].as_py()
            source = sources[i].as_py()
            why = (
                f"before {source} devices existed ({FAMILY_EPOCH.get(source, DEFAULT_EPOCH)})"
                if early[i].as_py()
                else f"{window.why} ({window.ceiling:%Y-%m-%dT%H:%MZ})"
            )
            shown.append(f"{name} {_text(value)}: {why}")
        dropped.add(int(count), shown)
        out[name] = table.filter(pc.invert(outside))
    return out, dropped


def _all_inside(column: pa.ChunkedArray, sources: pa.ChunkedArray, window: Window) -> bool:
    """Whether a table of one source has every non-null date inside ``window`` (from min and max alone)."""
    named = pc.min_max(sources)
    source = named["min"].as_py()
    if source is None or source != named["max"].as_py() or sources.null_count:
        return False
    bounds = pc.min_max(column)
    least, most = bounds["min"].as_py(), bounds["max"].as_py()
    if least is None:  # every date null: nothing to drop
        return True
    low = _as_type(FAMILY_EPOCH.get(source, DEFAULT_EPOCH), column.type)
    return bool(low <= least and most <= _ceiling(window, column.type))


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
