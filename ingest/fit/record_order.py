"""Data records in file order, as the scan's results need them, in bounded work arrays.

The scan (``ingest.fit.scan``) notes single records and runs of records
apart; here they are merged into one position per record, and each record's
header byte and chained file are looked up, a chunk at a time, so that no
temporary as long as the file's records costs more than the results do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_CHUNK = 1 << 16
"""Records handled per vectorised step where a whole-file temporary would cost int64s per record."""


def headers_of(buf: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The header byte before each record's content (uint8), a chunk at a time."""
    out = np.empty(positions.size, dtype=np.uint8)
    for a in range(0, positions.size, _CHUNK):
        out[a : a + _CHUNK] = buf[positions[a : a + _CHUNK] - 1]
    return out


def segments_of_records(starts: Sequence[int], positions: np.ndarray) -> np.ndarray:
    """Index of the chained file (by its first byte, ``starts``) of each record, in the smallest unsigned type that holds it."""
    out = np.zeros(positions.size, dtype=np.min_scalar_type(max(len(starts) - 1, 0)))
    if len(starts) > 1:
        first_bytes = np.array(starts, dtype=np.int64)
        for a in range(0, positions.size, _CHUNK):
            out[a : a + _CHUNK] = (
                np.searchsorted(first_bytes, positions[a : a + _CHUNK], "right") - 1
            )
    return out


def merge_runs(
    single_pos: np.ndarray,
    single_def: np.ndarray,
    run_start: np.ndarray,
    run_count: np.ndarray,
    run_stride: np.ndarray,
    run_def: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Expand runs into per-record positions and merge them with single records in file order.

    Both inputs are in file order already, so no sort is needed: each
    single record's place in the output is its own index plus the number of
    run records before it. Runs are expanded a bounded chunk of runs at a
    time straight into the output, so the only arrays as long as the file's
    records are the two results.
    """
    n_single = single_pos.size
    counts = run_count.astype(np.int64)
    ends = np.cumsum(counts)
    n = n_single + (int(ends[-1]) if ends.size else 0)
    if n == n_single:  # no runs: the scan's own arrays, no copy
        return single_pos, single_def
    positions = np.empty(n, dtype=single_pos.dtype)
    def_ids = np.empty(n, dtype=np.int32)
    # a run lies wholly before or after a single record, so a record's slot is its index
    # among its own kind plus the records of the other kind before it
    runs_before = np.concatenate(([0], ends))
    for a in range(0, n_single, _CHUNK):
        chunk = single_pos[a : a + _CHUNK]
        slots = np.arange(a, a + chunk.size, dtype=np.int64)
        slots += runs_before[np.searchsorted(run_start, chunk)]
        positions[slots] = chunk
        def_ids[slots] = single_def[a : a + _CHUNK]
    done = first = 0
    while first < run_start.size:
        # as many runs as make up about _CHUNK records (at least one)
        last = max(first + 1, int(np.searchsorted(ends, done + _CHUNK, "right")))
        c = counts[first:last]
        k = int(c.sum())
        pos = np.arange(k, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        pos *= np.repeat(run_stride[first:last].astype(np.int64), c)
        pos += np.repeat(run_start[first:last].astype(np.int64), c)
        slots = np.arange(done, done + k, dtype=np.int64)
        slots += np.searchsorted(single_pos, pos)
        positions[slots] = pos
        def_ids[slots] = np.repeat(run_def[first:last], c)
        done += k
        first = last
    return positions, def_ids
