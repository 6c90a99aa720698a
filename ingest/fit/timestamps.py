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


_CHUNK = 1 << 16
"""Records per vectorised step, so work arrays stay a constant size however long the file."""


def index_dtype(n: int) -> type[np.signedinteger]:
    """int32 record indices below 2**31 records, else int64."""
    return np.int32 if n < 2**31 else np.int64


def nonzero_index(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero`` in the smaller index type, built a chunk at a time (no int64 per element)."""
    dtype = index_dtype(mask.size)
    parts = [
        (np.flatnonzero(mask[a : a + _CHUNK]) + a).astype(dtype)
        for a in range(0, mask.size, _CHUNK)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def resolve_timestamp_16(anchor: np.ndarray, ts16: np.ndarray) -> np.ndarray:
    """Full times from 16-bit times and their anchors (both int64 arrays of FIT seconds)."""
    forward = (ts16 - anchor) & 0xFFFF
    behind = forward >= 0x10000 - TIMESTAMP_16_BEHIND_S
    out: np.ndarray = np.where(behind, anchor + forward - 0x10000, anchor + forward)
    return out


def fill_compressed(
    time: np.ndarray,
    full_valid: np.ndarray,
    compressed: np.ndarray,
    headers: np.ndarray,
    segment: np.ndarray,
) -> None:
    """Write the times of compressed-header records into ``time`` (in place).

    ``time``/``full_valid``: each record's own timestamp field (valid only on
    records without a compressed header); ``headers``: the record header bytes
    (the low 5 bits are the offset); ``segment``: each record's chained file,
    where the running time restarts at 0 (as in fitparse). Each compressed
    record moves forward from the time before it (its anchor, or the
    compressed record before it after the same anchor) by less than 32 s.
    Done a chunk of records at a time, carrying the running time across
    chunks, so its work arrays have a constant size.
    """
    anchors = nonzero_index(full_valid)
    carry_key: tuple[int, int] | None = None
    carry_time = 0
    for a in range(0, time.size, _CHUNK):
        rows = np.flatnonzero(compressed[a : a + _CHUNK]) + a
        if rows.size == 0:
            continue
        seg = segment[rows].astype(np.int64)
        at = np.searchsorted(anchors, rows) - 1
        anchor_idx = anchors[np.maximum(at, 0)].astype(np.int64) if anchors.size else rows
        has_anchor = (at >= 0) & (segment[anchor_idx] == segment[rows])
        anchor_idx = np.where(has_anchor, anchor_idx, -1)
        base = np.where(has_anchor, time[np.maximum(anchor_idx, 0)], 0)
        # a group is a stretch of compressed records after the same anchor in the same file
        key_change = np.ones(rows.size, dtype=bool)
        key_change[1:] = (anchor_idx[1:] != anchor_idx[:-1]) | (seg[1:] != seg[:-1])
        if carry_key == (int(anchor_idx[0]), int(seg[0])):  # the group goes on from the last chunk
            later = np.flatnonzero(key_change[1:])
            base[: int(later[0]) + 1 if later.size else rows.size] = carry_time
        offsets = (headers[rows] & 0x1F).astype(np.int64)
        previous_low = np.empty(rows.size, dtype=np.int64)
        previous_low[0] = 0
        previous_low[1:] = offsets[:-1]
        np.copyto(previous_low, base & 0x1F, where=key_change)
        step = (offsets - previous_low) & 0x1F
        total = np.cumsum(step)
        group_start = np.maximum.accumulate(np.where(key_change, np.arange(rows.size), 0))
        time[rows] = base + total - (total - step)[group_start]
        carry_key, carry_time = (int(anchor_idx[-1]), int(seg[-1])), int(time[rows[-1]])
