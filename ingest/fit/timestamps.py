"""Resolving record times: full timestamps, compressed-timestamp headers and ``timestamp_16``.

All functions work on whole arrays in file order (one element per data record),
so no per-record Python loop is needed.

* A full ``timestamp`` (field 253) is the anchor for what follows.
* A compressed-timestamp header carries the low 5 bits of the time; each such
  record moves forward from the previous time (anchor or earlier compressed
  record) by less than 32 s, as in the FIT SDK and fitparse.
* ``timestamp_16`` carries the low 16 bits. The SDK resolves it forward from
  the last full timestamp; real Garmin fenix files write some values a few
  seconds *behind* that anchor, which the forward rule turns into a jump of
  about 18 h. irisin resolves forward unless the value is at most
  ``TIMESTAMP_16_BEHIND_S`` (one hour) behind the anchor, in which case it is
  taken as behind.
  A value resolved more than that hour *past* the next record with a time of
  its own (full or compressed) is no time the device wrote, since devices
  write records in time order: it is left without a time. This is what bytes
  inserted into a record look like (the record's ``timestamp_16`` is then
  noise, read as up to 18 h ahead), and a reader keeps no such minute. In a
  damaged file, after the last such record, a value more than an hour past
  the record before it is left without a time for the same reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

TIMESTAMP_16_BEHIND_S = 3600
"""A ``timestamp_16`` value up to this many seconds behind its anchor is read as behind, not ~18 h ahead."""

FIT_EPOCH_UNIX_S = 631065600
"""Unix time of the FIT epoch, 1989-12-31 00:00 UTC."""

FIT_MIN_ABSOLUTE_S = 0x10000000
"""FIT times below this are seconds since device power-on, not absolute times."""


def fit_time_text(fit_seconds: int) -> str:
    """A FIT time as ``YYYY-MM-DDTHH:MM:SSZ``, for the examples in a file's notes."""
    return datetime.fromtimestamp(fit_seconds + FIT_EPOCH_UNIX_S, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def last_index(valid: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """For each element, the index of the last ``valid`` element at or before it, -1 if none.

    A ``reset`` element starts a new stretch: nothing before it is visible from
    it or after it (used at the start of each chained file).
    """
    idx = np.arange(valid.size, dtype=np.int64)
    last_valid = np.maximum.accumulate(np.where(valid, idx, -1)) if valid.size else idx
    last_reset = np.maximum.accumulate(np.where(reset, idx, -1)) if valid.size else idx
    return np.where(last_valid >= last_reset, last_valid, -1)


def next_index(valid: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """For each element, the index of the first ``valid`` element at or after it in the same ``segment``, -1 if none."""
    n = valid.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    nxt = np.minimum.accumulate(np.where(valid, idx, n)[::-1])[::-1]
    found = nxt < n
    found &= segment[np.minimum(nxt, n - 1)] == segment
    return np.where(found, nxt, -1)


def resolve_timestamp_16(anchor: np.ndarray, ts16: np.ndarray) -> np.ndarray:
    """Full times from 16-bit times and their anchors (both int64 arrays of FIT seconds)."""
    forward = (ts16 - anchor) & 0xFFFF
    behind = forward >= 0x10000 - TIMESTAMP_16_BEHIND_S
    out: np.ndarray = np.where(behind, anchor + forward - 0x10000, anchor + forward)
    return out


def resolve_compressed(
    full: np.ndarray,
    full_valid: np.ndarray,
    compressed: np.ndarray,
    time_offset: np.ndarray,
    segment_start: np.ndarray,
) -> np.ndarray:
    """Times of compressed-header records (int64, only meaningful where ``compressed``).

    ``full``/``full_valid``: each record's own timestamp field; ``time_offset``:
    the header's 5-bit offset; ``segment_start``: True at the first record of each
    chained file, where the running time restarts at 0 (as in fitparse).
    """
    out = np.zeros(full.size, dtype=np.int64)
    rows = np.flatnonzero(compressed)
    if rows.size == 0:
        return out
    anchor_idx = last_index(full_valid & ~compressed, segment_start)[rows]
    anchor = np.where(anchor_idx >= 0, full[np.maximum(anchor_idx, 0)], 0).astype(np.int64)
    # a group is a stretch of compressed records after the same anchor (or the same segment start)
    seg_of = np.cumsum(segment_start)[rows]
    key_change = np.ones(rows.size, dtype=bool)
    key_change[1:] = (anchor_idx[1:] != anchor_idx[:-1]) | (seg_of[1:] != seg_of[:-1])
    offsets = time_offset[rows].astype(np.int64)
    previous_low = np.empty(rows.size, dtype=np.int64)
    previous_low[0] = 0
    previous_low[1:] = offsets[:-1]
    previous_low = np.where(key_change, anchor & 0x1F, previous_low)
    step = (offsets - previous_low) & 0x1F
    total = np.cumsum(step)
    group_start = np.maximum.accumulate(np.where(key_change, np.arange(rows.size), 0))
    before_group = total[group_start] - step[group_start]
    out[rows] = anchor + total - before_group
    return out


def to_unix_us(fit_seconds: np.ndarray) -> np.ndarray:
    """FIT seconds to Unix microseconds (int64), for Arrow/polars UTC timestamps."""
    return (fit_seconds.astype(np.int64) + FIT_EPOCH_UNIX_S) * 1_000_000
