"""The FIT decoder's memory is bounded by a constant times the file size (issue 13, item 5).

A degenerate file (zero-field definitions, one-byte records) once took 67x
its size in memory, 46x in the scan alone. Each shape is decoded in a
subprocess whose address space is limited to what it holds before decoding
plus ``MEMORY_FACTOR`` times the file size (and a few MiB of constant-size
work arrays): the decode must complete there and find every record.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingest.fit.decode import MEMORY_FACTOR

SIZE = 4_000_000
SLACK = 24 << 20
"""Constant-size work arrays (chunks of 65,536 records) and allocator rounding."""

_CHILD = textwrap.dedent(
    """
    import resource, sys
    from ingest.fit.decode import decode_fit
    from ingest.fit.writer import degenerate_fit
    data = degenerate_fit({size}, "{shape}")
    decode_fit(degenerate_fit(1000, "{shape}"))  # lazy imports and tables, before the limit
    vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
    limit = vm + {factor} * len(data) + {slack}
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    decoded = decode_fit(data)
    print(decoded.status, decoded.n_records, sum(len(t) for t in decoded))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read VmSize")
@pytest.mark.parametrize("shape", ["one", "two", "compressed"])
def test_degenerate_fit_decodes_within_the_memory_factor(shape: str) -> None:
    code = _CHILD.format(size=SIZE, shape=shape, factor=MEMORY_FACTOR, slack=SLACK)
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, f"decode failed under {MEMORY_FACTOR}x: {run.stderr[-2000:]}"
    status, records, rows = run.stdout.split()
    expected = SIZE if shape != "two" else SIZE // 2 * 2
    assert (status, int(records), int(rows)) == ("ok", expected, expected)


def test_the_limit_is_tight_enough_to_catch_the_old_cost() -> None:
    """The same harness fails at a tenth of the factor: the limit really constrains the decode."""
    code = _CHILD.format(size=SIZE, shape="two", factor=MEMORY_FACTOR // 10, slack=0)
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode != 0 and "MemoryError" in run.stderr


def _mixed_file() -> bytes:
    """Runs, single records, compressed headers, timestamp_16 and two chained files."""
    import numpy as np

    from ingest.fit.writer import FitWriter, chain

    t0 = 1_000_000_000
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "serial_number", "time_created"])
    w.write(0, [32, 1, 7, t0])
    w.define(1, "monitoring", ["timestamp", "heart_rate"])
    w.define(2, "monitoring", ["timestamp_16", "heart_rate"])
    w.define(3, "record", ["heart_rate"])
    for hour in range(6):
        w.write(1, [t0 + hour * 3600, 60])
        w.write_many(2, [(t0 + hour * 3600 + 60 * np.arange(1, 59)) & 0xFFFF, np.full(58, 70)])
        w.write_many(3, [np.arange(40) % 200], time_offsets=np.arange(40) % 32)
        for i in range(30):  # no runs: single records
            if i % 3:
                w.write(3, [90])
            else:
                w.write(2, [(t0 + hour * 3600 + 3500 + i) & 0xFFFF, 90])
    first = w.to_bytes()
    return chain(first, first)


def test_decoding_in_chunks_gives_the_same_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounded work arrays change nothing: chunks of 7 and 5 records decode like one chunk."""
    import numpy as np

    import ingest.fit.decode as decode
    import ingest.fit.record_order as record_order
    import ingest.fit.timestamps as timestamps

    data = _mixed_file()
    whole = decode.decode_fit(data)
    monkeypatch.setattr(record_order, "_CHUNK", 5)
    monkeypatch.setattr(timestamps, "_CHUNK", 7)
    monkeypatch.setattr(decode, "_TIME_CHUNK", 3)
    chunked = decode.decode_fit(data)
    assert list(whole.messages) == list(chunked.messages) == ["file_id", "monitoring", "record"]
    assert whole.n_records == chunked.n_records == 2 * (1 + 6 * (1 + 58 + 40 + 30))
    for name, table in whole.messages.items():
        other = chunked[name]
        assert np.array_equal(table.record_index, other.record_index)
        assert np.array_equal(table.time_valid, other.time_valid)
        assert np.array_equal(table.time[table.time_valid], other.time[other.time_valid])
        for col, column in table.columns.items():
            assert np.array_equal(column.values, other.columns[col].values), (name, col)
    record = whole["record"]
    assert record.time_valid[:40].all()  # compressed headers resolve from the monitoring anchors
    assert int(np.diff(record.time[:40]).max()) < 32


def test_a_file_of_endless_distinct_definitions_is_stopped_as_damage() -> None:
    """Each distinct layout costs Python objects; past MAX_LAYOUT_FIELDS the scan stops with a reason."""
    import struct

    from ingest.fit.decode import decode_fit
    from ingest.fit.scan import MAX_LAYOUT_FIELDS
    from ingest.fit.writer import FitWriter

    w = FitWriter()
    w.define(0, "monitoring", ["timestamp"])
    w.write(0, [1_000_000_000])
    for num in range(MAX_LAYOUT_FIELDS // 4 + 10):  # four one-byte fields each, every layout new
        w.raw(bytes([0x41, 0]) + struct.pack("<BHB", 0, num % 65536, 4))
        w.raw(bytes([1, 1, 2, 2, 1, 2, num // 65536, 1, 2, 4, 1, 2]))
    decoded = decode_fit(w.to_bytes())
    assert decoded.status == "partial"
    assert decoded.reason is not None and "distinct message definitions" in decoded.reason
    assert decoded["monitoring"].time.tolist() == [1_000_000_000]
