"""Columnar extraction of Fitbit JSON-family time series.

Fitbit's JSON series are arrays of ``{"dateTime": "MM/DD/YY HH:MM:SS", "value": ...}``
where ``value`` is a quoted integer (steps, active minutes) or an object
whose ``bpm`` is an integer (heart rate). A year of one participant is
hundreds of megabytes, so the regular layout is read with numpy over the raw
bytes: stamps are found by their fixed shape and decoded with a calendar
lookup, and each record's integer is read where the first record's layout puts
it. The result is verified: as many stamps as ``"dateTime"`` keys, valid
calendar dates, the expected key bytes in front of every value (or, for
irregular spacing, exactly one such key between consecutive stamps), nothing
signed or fractional. Anything that does not verify is handed to a real JSON parser
(orjson), so an unusual but valid file is still read correctly. A file that
parser refuses is read record by record: each record that can be read is kept,
each that cannot is dropped and counted, and a file that ends mid-record is
marked cut (``ingest.salvage`` holds the shared rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import polars as pl

from ingest.salvage import Dropped, checked_number, quote, without_bom

_QUOTE, _SLASH, _SPACE, _COLON = 34, 47, 32, 58
_STAMP_LEN = 17  # MM/DD/YY HH:MM:SS
_MAX_DIGITS = 9
_WINDOW = 24  # bytes after a value's key in which the value must appear


class JsonDamage(ValueError):
    """The bytes are not a complete JSON array of Fitbit records."""


@dataclass(frozen=True)
class StampedSeries:
    """Naive stamps (seconds since 1970 read as if UTC) with their integer values."""

    seconds: np.ndarray
    values: np.ndarray
    fast_path: bool
    dropped: Dropped = field(default_factory=Dropped)
    """Records that could not be read and were left out."""
    cut: str | None = None
    """Set when the file ends mid-record: what was kept is what came before the cut."""

    def frame(self) -> pl.DataFrame:
        """The series as a polars frame: ``stamp`` (naive Datetime us) and ``value`` (Int64)."""
        return pl.DataFrame(
            {
                "stamp": (self.seconds * 1_000_000).astype("datetime64[us]"),
                "value": self.values,
            }
        )


def _first_days_of_months() -> np.ndarray:
    """Days since 1970-01-01 of the first of each month of 2000..2100, indexed ``[yy, month]``.

    Column 13 holds the next year's 1 January, so ``[yy, m + 1] - [yy, m]`` is the month's length.
    """
    months = (
        np.arange("2000-01", "2101-01", dtype="datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    first = months[:1200].reshape(100, 12)
    next_january = months[12::12].reshape(100, 1)
    return np.concatenate([np.zeros((100, 1), dtype=np.int64), first, next_january], axis=1)


_MONTH_START = _first_days_of_months()
"""Lookup for two-digit-year stamps: a gather instead of calendar arithmetic per stamp."""


def _stamp_starts(a: np.ndarray) -> np.ndarray:
    """Offsets of every ``"MM/DD/YY HH:MM:SS"`` string (the first digit) in the buffer."""
    n = a.size
    p = np.flatnonzero(a == _SLASH)
    p = p[(p >= 3) & (p + 15 < n)]
    shape_ok = (
        (a[p + 3] == _SLASH)
        & (a[p + 6] == _SPACE)
        & (a[p + 9] == _COLON)
        & (a[p + 12] == _COLON)
        & (a[p - 3] == _QUOTE)
        & (a[p + 15] == _QUOTE)
    )
    starts: np.ndarray = p[shape_ok] - 2
    return starts


def _decode_stamps(a: np.ndarray, s: np.ndarray) -> np.ndarray | None:
    """Naive epoch seconds of the stamps starting at ``s``; None when a digit is not a digit."""
    if s.size == 0:
        return np.zeros(0, dtype=np.int64)
    window = np.lib.stride_tricks.sliding_window_view(a, _STAMP_LEN)[s]
    digits = window[:, [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16]] - np.uint8(48)
    if digits.size and digits.max() > 9:  # uint8 wraps below '0', so one test covers both sides
        return None
    d = digits.astype(np.int32)
    pairs = d[:, 0::2] * 10 + d[:, 1::2]
    month, day, yy, hh, mi, ss = (pairs[:, k] for k in range(6))
    if month.size and (month.min() < 1 or month.max() > 12 or day.min() < 1 or day.max() > 31):
        return None
    if np.any(day > _MONTH_START[yy, month + 1] - _MONTH_START[yy, month]):
        return None  # e.g. 02/30: let the full parser report it
    days = _MONTH_START[yy, month] + (day - 1)
    seconds: np.ndarray = days * 86400 + (hh * 3600 + mi * 60 + ss).astype(np.int64)
    return seconds


def _read_digits(padded: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned integers whose first digit is at ``start``: (values, digit counts)."""
    values = np.zeros(start.size, dtype=np.int64)
    length = np.zeros(start.size, dtype=np.int64)
    active = np.ones(start.size, dtype=bool)
    for pos in range(_MAX_DIGITS + 1):
        digit = padded[start + pos] - np.uint8(48)
        active &= digit <= 9  # uint8 wraps below '0'
        if not active.any():
            break
        values[active] = values[active] * 10 + digit[active]
        length += active
    return values, length


def _fixed_layout_values(
    a: np.ndarray, starts: np.ndarray, key: bytes, quoted: bool
) -> np.ndarray | None:
    """Values when every record repeats the first record's layout from stamp to value.

    Pretty-printed exports put the key and its value at the same distance
    from the stamp in every record; that is checked byte by byte for all
    records, so the common case costs a few gathers per record.
    """
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64)
    first_end = int(starts[1]) if starts.size > 1 else a.size
    record = a[starts[0] : first_end].tobytes()
    k = record.find(b'"' + key + b'"')
    if k < 0:
        return None
    v = k + len(key) + 2
    while v < len(record) and not (48 <= record[v] <= 57):
        v += 1
    prefix = record[k:v]
    if v >= len(record) or prefix.count(b":") != 1 or len(prefix) > _WINDOW:
        return None
    padded = np.concatenate([a, np.zeros(_WINDOW + _MAX_DIGITS + 2, dtype=np.uint8)])
    for i, byte in enumerate(prefix):
        if np.any(padded[starts + k + i] != byte):
            return None
    value_start = starts + v
    values, length = _read_digits(padded, value_start)
    following = padded[value_start + length]
    limit = np.append(starts[1:], a.size)
    if length.min() < 1 or length.max() > _MAX_DIGITS or np.any(value_start + length >= limit):
        return None
    if quoted and np.any(following != _QUOTE):
        return None
    if not quoted and np.any(
        (following == ord(".")) | (following == ord("e")) | (following == ord("E"))
    ):
        return None
    return values


def _key_values(a: np.ndarray, starts: np.ndarray, key: bytes, quoted: bool) -> np.ndarray | None:
    """The unsigned integer value of ``key`` in each record, the record starting at ``starts``.

    Finds every ``"<key>"``, checks there is exactly one between consecutive
    stamps, then reads ``\\s*:\\s*`` (and a quote when ``quoted``) and the digits.
    Returns None when anything is irregular (signed, fractional, too long,
    misplaced), so the caller falls back to a full parse.
    """
    padded = np.concatenate([a, np.zeros(_WINDOW, dtype=np.uint8)])
    quotes = np.flatnonzero(a == _QUOTE)
    pattern = np.frombuffer(b'"' + key + b'"', dtype=np.uint8)
    cand = quotes[quotes + pattern.size < a.size]
    cand = cand[(padded[cand + 1] == pattern[1]) & (padded[cand + pattern.size - 1] == _QUOTE)]
    near = np.lib.stride_tricks.sliding_window_view(padded, pattern.size)[cand]
    key_pos = cand[(near == pattern).all(axis=1)]
    if key_pos.size != starts.size:
        return None
    if key_pos.size == 0:
        return np.zeros(0, dtype=np.int64)
    if np.any(key_pos <= starts) or np.any(key_pos[:-1] >= starts[1:]):
        return None
    window = np.lib.stride_tricks.sliding_window_view(padded, _WINDOW)[key_pos + pattern.size]
    is_digit = (window - np.uint8(48)) < 10
    first = is_digit.argmax(axis=1)
    rows = np.arange(key_pos.size)
    if not is_digit[rows, first].all() or first.max() > _WINDOW - _MAX_DIGITS - 2:
        return None
    lead = np.where(np.arange(_WINDOW)[None, :] < first[:, None], window, np.uint8(_SPACE))
    separators = (
        (lead == _SPACE)
        | (lead == _COLON)
        | (lead == ord("\n"))
        | (lead == ord("\r"))
        | (lead == ord("\t"))
    )
    if quoted:
        separators |= lead == _QUOTE
    if not separators.all() or np.any((lead == _COLON).sum(axis=1) != 1):
        return None
    if quoted and np.any(window[rows, first - 1] != _QUOTE):
        return None
    span = first[:, None] + np.arange(_MAX_DIGITS + 1)
    run = np.cumprod(np.take_along_axis(is_digit, span, axis=1), axis=1)
    length = run.sum(axis=1)
    if length.max() > _MAX_DIGITS:
        return None
    following = window[rows, first + length]
    if quoted and np.any(following != _QUOTE):
        return None
    if not quoted and np.any(
        (following == ord(".")) | (following == ord("e")) | (following == ord("E"))
    ):
        return None
    digits = np.take_along_axis(window, span[:, :_MAX_DIGITS], axis=1).astype(np.int64) - 48
    values = np.zeros(key_pos.size, dtype=np.int64)
    for pos in range(int(length.max())):
        values = np.where(pos < length, values * 10 + digits[:, pos], values)
    return values


def scan_stamped_integers(raw: bytes, value_key: bytes, quoted: bool) -> StampedSeries:
    """Stamps and integer values of a Fitbit series file.

    ``value_key`` is the key whose integer is wanted (``b"value"`` for steps,
    ``b"bpm"`` for heart rate) and ``quoted`` whether it is a JSON string.
    Raises JsonDamage when the bytes are not a JSON array of records at all,
    or when records exist and none of them can be read.
    """
    raw = without_bom(raw)
    if not raw.strip():
        return _empty()
    if raw[:64].lstrip().startswith(b"[") and raw[-64:].rstrip().endswith(b"]"):
        a = np.frombuffer(raw, dtype=np.uint8)
        starts = _stamp_starts(a)
        if starts.size == raw.count(b'"dateTime"'):
            seconds = _decode_stamps(a, starts)
            if seconds is not None:
                values = _fixed_layout_values(a, starts, value_key, quoted)
                if values is None:
                    values = _key_values(a, starts, value_key, quoted)
                if values is not None:
                    return StampedSeries(seconds, values, fast_path=True)
    return _parse_records(raw, value_key)


def _empty() -> StampedSeries:
    return StampedSeries(np.zeros(0, np.int64), np.zeros(0, np.int64), fast_path=False)


_RECORD = re.compile(rb"\{(?:[^{}]|\{[^{}]*\})*\}")
"""A JSON object nested at most one level deep: a Fitbit record (heart rate nests ``value``)."""
_SEPARATORS = re.compile(rb"[\s,\[\]]*")


def _parse_records(raw: bytes, value_key: bytes) -> StampedSeries:
    """Full parse for layouts the byte scanner does not verify, record by record when the whole fails."""
    dropped = Dropped()
    cut = None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.lstrip().startswith(b"["):
            raise JsonDamage(f"not valid JSON: {exc}") from None
        document, cut = _salvage_records(raw, dropped)
        if not document:
            raise JsonDamage(f"not valid JSON: {exc}") from None
    if not isinstance(document, list):
        raise JsonDamage("not a JSON array of records")
    stamps: list[Any] = []
    values: list[Any] = []
    key = value_key.decode()
    for record in document:
        if isinstance(record, dict):
            value = record.get("value")
            if isinstance(value, dict):
                value = value.get(key)
            stamps.append(
                record.get("dateTime") if isinstance(record.get("dateTime"), str) else None
            )
            values.append(
                value
                if isinstance(value, str | int | float) and not isinstance(value, bool)
                else None
            )
        else:
            stamps.append(None)
            values.append(None)
    frame = pl.DataFrame(
        {
            "stamp": pl.Series(stamps, dtype=pl.String),
            "value": pl.Series([None if v is None else str(v) for v in values], dtype=pl.String),
        }
    ).select(
        pl.col("stamp").str.strptime(pl.Datetime("us"), "%m/%d/%y %H:%M:%S", strict=False),
        checked_number(pl.col("value"), pl.Int32()).cast(pl.Int64),
    )
    bad = frame["stamp"].is_null() | frame["value"].is_null()
    if bad.any():
        rows = bad.arg_true().to_list()
        dropped.add(
            len(rows),
            [f"record {i + 1}: {quote(orjson.dumps(document[i], default=str))}" for i in rows[:5]],
        )
        frame = frame.filter(~bad)
    if frame.height == 0 and dropped.count:
        shown = "; ".join(dropped.examples[:3])
        raise JsonDamage(
            f"none of its {dropped.count} records has a readable dateTime and value ({shown})"
            + (f"; {cut}" if cut else "")
        )
    seconds = (frame["stamp"].cast(pl.Int64) // 1_000_000).to_numpy()
    return StampedSeries(
        seconds, frame["value"].to_numpy(), fast_path=False, dropped=dropped, cut=cut
    )


def _salvage_records(raw: bytes, dropped: Dropped) -> tuple[list[Any], str | None]:
    """The records of a JSON array that does not parse whole: every object that parses alone.

    Bytes between records other than commas, brackets and white space are a
    damaged record and counted once per stretch; an array without its
    closing bracket, or whose last object is incomplete, is cut.
    """
    records: list[Any] = []
    position = raw.index(b"[") + 1
    for match in _RECORD.finditer(raw, position):
        _count_junk(raw[position : match.start()], position, dropped)
        try:
            records.append(orjson.loads(match.group()))
        except orjson.JSONDecodeError:
            dropped.add(1, [f"byte {match.start()}: not a JSON record {quote(match.group())}"])
        position = match.end()
    tail = raw[position:]
    end = tail.rstrip()
    cut = None
    if not end.endswith(b"]"):
        cut = f"the file ends mid-record at byte {len(raw)}, after {len(records)} records"
    else:
        _count_junk(end[:-1], position, dropped)
    return records, cut


def _count_junk(between: bytes, offset: int, dropped: Dropped) -> None:
    if _SEPARATORS.fullmatch(between) is None:
        dropped.add(1, [f"byte {offset}: not a JSON record {quote(between.strip())}"])
