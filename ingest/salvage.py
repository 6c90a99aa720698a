"""Keeping the good records of a damaged text file.

A wearable export is thousands of independent records; one of them being
unreadable (a value of ``1e308``, a stray byte, a line with a field too many)
says nothing about the others. The helpers here let a reader drop exactly the
records it cannot read, count them and keep a few examples for the file's
notes, and tell that apart from a file that is *cut* (ends mid-record), which
is the one defect that makes a file ``partial``.

* ``without_bom``: bytes without a leading UTF-8 byte-order mark (Windows
  editors and some exporters write one; JSON parsers refuse it);
* ``checked_number``: text or numbers to a canonical numeric type, null where
  the value is not a finite number that type can hold;
* ``read_csv_text``: a CSV as a frame of strings, line by line when the fast
  parser refuses the file, dropping only the lines that cannot be read;
* ``Dropped``: the count and first examples of dropped records (``key``
  names them in the notes: unreadable records, exact duplicates, impossible
  samples);
* ``exact_duplicates``: a frame's rows that repeat an earlier row exactly,
  which a reader counts once (a Takeout CSV with its rows written twice must
  not double a minute's steps).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

BOM = b"\xef\xbb\xbf"
EXAMPLES_KEPT = 5
"""Dropped records quoted in a file's notes; the count covers all of them."""

_EXAMPLE_CHARS = 80

_LIMITS: dict[type[pl.DataType], float] = {
    pl.Int8: 2**7 - 1,
    pl.Int16: 2**15 - 1,
    pl.Int32: 2**31 - 1,
    pl.Int64: 2**53,  # beyond this a float64 no longer holds every integer
    pl.Float32: 3.4e38,
    pl.Float64: 1.7e308,
}


def without_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark."""
    return data[len(BOM) :] if data.startswith(BOM) else data


def quote(text: object) -> str:
    """A short printable rendering of a bad value or record for the notes."""
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    shown = shown.replace("\n", " ").replace("\r", " ")
    return repr(shown if len(shown) <= _EXAMPLE_CHARS else shown[:_EXAMPLE_CHARS] + "...")


@dataclass
class Dropped:
    """Records a reader could not read and left out: how many, and the first few of them."""

    count: int = 0
    examples: list[str] = field(default_factory=list)
    key: str = "records_dropped"
    """Notes key of the count; the examples go under ``<key>_examples``."""

    def add(self, count: int, examples: Iterable[str] = ()) -> None:
        self.count += count
        for example in examples:
            if len(self.examples) >= EXAMPLES_KEPT:
                break
            self.examples.append(example)

    def extend(self, other: Dropped) -> None:
        self.add(other.count, other.examples)

    def notes(self) -> dict[str, Any]:
        """The manifest notes for these records (nothing when none was dropped)."""
        if not self.count:
            return {}
        return {self.key: self.count, f"{self.key}_examples": list(self.examples)}


DUPLICATES_KEY = "duplicate_records_dropped"
"""Notes key of exact duplicate records a reader counted once."""

IMPLAUSIBLE_KEY = "samples_implausible_dropped"
"""Notes key of samples left out before aggregation because their value is impossible."""


def duplicates() -> Dropped:
    return Dropped(key=DUPLICATES_KEY)


def implausible() -> Dropped:
    return Dropped(key=IMPLAUSIBLE_KEY)


def exact_duplicates(
    frame: pl.DataFrame, row_label: str = "row", first_row: int = 1
) -> tuple[pl.DataFrame, Dropped]:
    """``frame`` without rows that repeat an earlier row in every column, and those rows counted.

    A record written twice is one observation, not two: summing both would
    double a minute's steps. The first copy is kept, in file order.
    ``first_row``: the number the first row of ``frame`` has in the examples.
    """
    dropped = duplicates()
    if frame.height < 2 or not frame.columns:
        return frame, dropped
    repeat = ~frame.select(pl.struct(pl.all()).is_first_distinct()).to_series()
    if not repeat.any():
        return frame, dropped
    marked = frame.with_row_index("_row", offset=first_row).filter(repeat)
    shown = [
        f"{row_label} {r['_row']}: " + ", ".join(f"{c}={quote(r[c])}" for c in frame.columns)
        for r in marked.head(EXAMPLES_KEPT).iter_rows(named=True)
    ]
    dropped.add(marked.height, shown)
    return frame.filter(~repeat), dropped


def checked_number(value: pl.Expr, dtype: pl.DataType, *, text: bool = True) -> pl.Expr:
    """``value`` as ``dtype``; null where it is not a finite number ``dtype`` can hold.

    ``text``: the value is a string column (surrounding spaces are ignored).
    Integer types are rounded to the nearest whole number first, as the
    exports write fractional counts only by accident.
    """
    number = (value.str.strip_chars() if text else value).cast(pl.Float64, strict=False)
    limit = _LIMITS[type(dtype)]
    usable = number.is_finite() & (number.abs() <= limit)
    if dtype.is_integer():
        number = number.round(0)
    return pl.when(usable).then(number).otherwise(None).cast(dtype)


def examples_of(
    frame: pl.DataFrame, bad: pl.Expr, columns: list[str], row_label: str = "row"
) -> tuple[int, list[str]]:
    """How many rows of ``frame`` match ``bad``, and the first few rendered as ``row N: col='text'``."""
    marked = frame.with_row_index("_row").filter(bad)
    shown = []
    for record in marked.head(EXAMPLES_KEPT).iter_rows(named=True):
        values = ", ".join(f"{c}={quote(record[c])}" for c in columns if c in record)
        shown.append(f"{row_label} {record['_row'] + 1}: {values}")
    return marked.height, shown


@dataclass
class CsvText:
    """A CSV read as strings: the frame, the lines that could not be read, and whether the file is cut."""

    frame: pl.DataFrame
    dropped: Dropped
    cut: str | None = None
    """Set when the file ends in the middle of a record (the last line lacks fields and its newline)."""


class UnreadableCsv(ValueError):
    """Not a CSV at all: no header line can be read."""


def read_csv_text(data: bytes) -> CsvText:
    """Every column as strings; an empty file is an empty frame without columns.

    The fast polars parser reads well-formed files. When it refuses one (a
    line with extra fields, an unterminated quote, bytes that are not UTF-8),
    the file is read line by line instead and only the lines that cannot be
    read are dropped. A last line without its newline and with fewer fields
    than the header is the cut end of a truncated file: it is dropped and
    ``cut`` says so.
    """
    data = without_bom(data)
    if not data.strip():
        return CsvText(pl.DataFrame(), Dropped())
    cut = None
    if not data.endswith(b"\n"):
        head_end = data.find(b"\n")
        last_start = data.rfind(b"\n") + 1
        if head_end >= 0 and last_start > head_end:
            header_fields = _fields(data[:head_end])
            last = _fields(data[last_start:])
            if header_fields is not None and (last is None or len(last) < len(header_fields)):
                cut = f"the file ends mid-record at byte {len(data)} (last line {quote(data[last_start:])})"
                data = data[:last_start]
    try:
        frame = pl.read_csv(data, infer_schema_length=0, truncate_ragged_lines=False)
        return CsvText(frame, Dropped(), cut)
    except Exception:  # polars raises ComputeError and others for lines it cannot split
        frame, dropped = _read_line_by_line(data)
        return CsvText(frame, dropped, cut)


def _fields(line: bytes) -> list[str] | None:
    try:
        text = line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        return None
    return next(csv.reader([text]), [])


def _read_line_by_line(data: bytes) -> tuple[pl.DataFrame, Dropped]:
    dropped = Dropped()
    header: list[str] | None = None
    rows: list[list[str]] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        fields = _fields(line)
        if header is None:
            if fields is None:
                raise UnreadableCsv(f"the header line is not UTF-8 text: {quote(line)}")
            header = _unique_names(fields)
            continue
        if fields is None:
            dropped.add(1, [f"line {number}: not UTF-8 text {quote(line)}"])
        elif len(fields) != len(header):
            dropped.add(
                1,
                [
                    f"line {number}: {len(fields)} fields, the header has {len(header)}: {quote(line)}"
                ],
            )
        else:
            rows.append(fields)
    assert header is not None
    frame = pl.DataFrame(rows, schema={name: pl.String for name in header}, orient="row")
    return frame, dropped


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}_duplicated_{n}")
    return out
