"""The fast path through export.xml reads exactly what the safe lxml path reads, or steps aside.

Each case reads the same bytes twice, with the fast path (small chunks, so
that it is taken on most of the file) and with ``fast=False`` (every byte
through ``lxml``), and compares the canonical tables and notes. Layouts the
fast path must not trust (a value over two lines, a comment, a tab, a
character reference, two records on a line, a record in a correlation) still
give equal tables, because those chunks go to the parser.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import ingest.apple.fast_scan as fast_scan
from bench.apple_health import write_export
from ingest.apple import read_export_xml
from ingest.contract import ReadContext, ReadResult
from pipeline.demo.cohort import COHORT, truth_minutes
from pipeline.demo.garmin_files import demo_sessions_from_truth
from pipeline.demo.xml_files import apple_health_xml
from tests.apple.builders import HEART_RATE, IPHONE, STEPS, WATCH, export_xml, record, workout

CET = timezone(timedelta(hours=1))
CTX = ReadContext("P01", "f" * 64, "export.xml", timezone="Europe/Oslo")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Chunks of a few records, so that small files go through the fast path chunk by chunk."""
    monkeypatch.setattr(fast_scan, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(fast_scan, "FIRST_CHUNK_BYTES", 256)
    yield


def both(xml: bytes, ctx: ReadContext = CTX) -> tuple[ReadResult, ReadResult]:
    return read_export_xml(io.BytesIO(xml), ctx), read_export_xml(io.BytesIO(xml), ctx, fast=False)


def assert_same(fast: ReadResult, safe: ReadResult) -> None:
    assert (fast.status, fast.reason) == (safe.status, safe.reason)
    assert fast.tables.keys() == safe.tables.keys()
    for name in safe.tables:
        a, b = pl.from_arrow(fast.tables[name]), pl.from_arrow(safe.tables[name])
        assert a.equals(b), name
    assert {k: v for k, v in fast.notes.items() if k != "fast_path"} == {
        k: v for k, v in safe.notes.items() if k != "fast_path"
    }


def chunks_taken(result: ReadResult) -> tuple[int, int]:
    taken, _, total, _ = str(result.notes["fast_path"]).split(" ", 3)
    return int(taken), int(total)


def _walk(device: str, source: str, steps: int, start: datetime, minutes: int = 30) -> str:
    return "".join(
        record(STEPS, start + timedelta(minutes=i), start + timedelta(minutes=i + 1), steps,
               device=device, source=source)
        + record(HEART_RATE, start + timedelta(minutes=i, seconds=20),
                 start + timedelta(minutes=i, seconds=20), 100 + i, device=device, source=source)
        for i in range(minutes)
    )  # fmt: skip


def test_a_generated_export_reads_the_same_on_both_paths(
    tmp_path: Path, small_chunks: None
) -> None:
    path = tmp_path / "export.xml"
    write_export(path, 400_000, seed=7)
    fast, safe = both(path.read_bytes())
    assert fast.status == "ok" and pl.from_arrow(fast.tables["minutes"]).height > 1000
    assert_same(fast, safe)
    taken, total = chunks_taken(fast)
    assert total > 100 and taken > 0.9 * total  # all but the prolog, the workouts and the end


def test_the_demo_apple_export_reads_the_same_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (p,) = [p for p in COHORT if p.fmt == "apple_health"][:1]
    truth = truth_minutes(p, 1, weeks=2)
    xml = apple_health_xml(
        truth, demo_sessions_from_truth(truth), birth_year=p.birth_year, resting_hr=p.resting_hr
    )
    monkeypatch.setattr(fast_scan, "CHUNK_BYTES", len(xml) // 20)
    ctx = ReadContext(p.participant_id, "f" * 64, "export.xml", timezone=p.timezone)
    fast, safe = both(xml, ctx)
    assert fast.status == "ok" and "sessions" in fast.tables and "profiles" in fast.tables
    assert_same(fast, safe)
    taken, total = chunks_taken(fast)
    assert taken > 0.8 * total


def _odd(kind: str) -> str:
    t = datetime(2026, 3, 10, 9, 0, tzinfo=CET)
    one = record(STEPS, t, t + timedelta(minutes=1), 40, device=WATCH, source="W")
    assert "name:Apple Watch" in one
    if kind == "value over two lines":
        return one.replace("name:Apple Watch", "name:Apple\nWatch")
    if kind == "comment":
        return f" <!-- {one.strip()} -->\n"
    if kind == "open comment":
        return f" <!--\n{one}{one}-->\n"
    if kind == "tab":
        return one.replace("name:Apple Watch", "name:Apple\tWatch")
    if kind == "character reference":
        return one.replace("name:Apple Watch", "name:Apple&#32;Watch").replace(
            'value="40"', 'value="4&#48;"'
        )
    if kind == "two on a line":
        return one.rstrip("\n") + one
    if kind == "correlation":
        return (
            ' <Correlation type="HKCorrelationTypeIdentifierFood" startDate="2026-03-10 09:00:00 +0100"'
            ' endDate="2026-03-10 09:00:00 +0100">\n' + " " + one + " </Correlation>\n"
        )
    if kind == "attributes reordered":
        return one.replace(' sourceVersion="17.4"', "").replace(
            ' type="', ' sourceVersion="1" type="'
        )
    if kind == "single quotes":
        return one.replace('sourceName="W"', "sourceName='W \"quoted\"'")
    if kind == "unknown line":
        return f' <Audiogram type="x" startDate="y"/>\n{one}'
    raise AssertionError(kind)


ODD = [
    "value over two lines",
    "comment",
    "open comment",
    "tab",
    "character reference",
    "two on a line",
    "correlation",
    "attributes reordered",
    "single quotes",
    "unknown line",
]


@pytest.mark.parametrize("kind", ODD)
def test_an_unusual_layout_in_one_chunk_reads_the_same(kind: str, small_chunks: None) -> None:
    start = datetime(2026, 3, 11, 17, 0, tzinfo=CET)
    body = (
        _walk(WATCH, "Jane’s Apple Watch", 100, start)
        + _odd(kind)
        + _walk(IPHONE, "Jane’s iPhone", 90, start + timedelta(hours=2))
        + workout(
            "Walking", start, start + timedelta(minutes=30), avg_hr=110, max_hr=130, source="W"
        )
    )
    fast, safe = both(export_xml(body))
    assert fast.status == "ok", fast.reason
    assert_same(fast, safe)


def test_damage_after_fast_chunks_is_decided_by_the_safe_path(small_chunks: None) -> None:
    start = datetime(2026, 3, 11, 17, 0, tzinfo=CET)
    whole = export_xml(_walk(WATCH, "W", 100, start, minutes=60))
    cut = whole[: len(whole) * 3 // 4]
    fast, safe = both(cut)
    assert safe.status == "partial"
    assert_same(fast, safe)
    assert str(fast.notes["fast_path"]).startswith("not taken: XML damage")


@pytest.mark.parametrize("seed", range(30))
def test_damaged_exports_read_the_same_on_both_paths(seed: int, small_chunks: None) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 3, 10, 8, 0, tzinfo=CET)
    data = bytearray(
        export_xml(
            _walk(WATCH, "W", 100, start, minutes=20)
            + workout("Walking", start, start + timedelta(minutes=10), avg_hr=100, max_hr=120, source="W")
        )
    )  # fmt: skip
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(data))
        op = rng.random()
        if op < 0.4:
            data[i] = rng.randrange(256)
        elif op < 0.7:
            del data[i : i + rng.randint(1, 50)]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    fast, safe = both(bytes(data))
    assert_same(fast, safe)


def test_minute_rows_built_span_by_span_equal_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.apple.minutes as minutes

    path = tmp_path / "export.xml"
    write_export(path, 300_000, seed=3)
    whole = read_export_xml(io.BytesIO(path.read_bytes()), CTX)
    monkeypatch.setattr(minutes, "SLICE_ROWS", 97)
    spans = read_export_xml(io.BytesIO(path.read_bytes()), CTX)
    assert spans.tables["minutes"].column("minute_utc").num_chunks >= 8
    assert_same(spans, whole)
    assert pl.from_arrow(whole.tables["minutes"])["minute_utc"].is_sorted()


def test_partials_spilled_to_parquet_read_the_same_and_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    import tempfile

    import ingest.apple.reader as reader

    path = tmp_path / "export.xml"
    write_export(path, 300_000, seed=5)
    whole = read_export_xml(io.BytesIO(path.read_bytes()), CTX)
    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    monkeypatch.setattr(reader, "SPILL_ROWS", 60)
    folders: list[Path] = []
    real_spill = reader._Minutes._spill

    def spy(self: reader._Minutes) -> None:
        real_spill(self)
        folders.append(self.spilled[-1])

    monkeypatch.setattr(reader._Minutes, "_spill", spy)
    spilled = read_export_xml(io.BytesIO(path.read_bytes()), CTX)
    assert len(folders) > 5  # many Parquet files of partials were written
    assert_same(spilled, whole)
    assert list(spill_root.iterdir()) == []  # and removed with their folder


def test_spill_folders_of_killed_readers_are_removed_by_the_next_spilling_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGKILLed read leaves its spill folder; the next read that spills removes it, and
    leaves the folder of a reader still running."""
    import subprocess
    import sys
    import tempfile

    import ingest.apple.reader as reader

    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    monkeypatch.setattr(reader, "SPILL_ROWS", 60)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = spill_root / f"{reader.SPILL_PREFIX}{gone.stdout.strip()}-abc123"
    (dead / "partials-00000.parquet").parent.mkdir()
    (dead / "partials-00000.parquet").write_bytes(b"PAR1 left by a killed read")
    live = spill_root / f"{reader.SPILL_PREFIX}{os.getppid()}-def456"
    live.mkdir()
    other = spill_root / "irisin-apple-bench"  # not a spill folder: no pid
    other.mkdir()

    path = tmp_path / "export.xml"
    write_export(path, 100_000, seed=5)
    read_export_xml(io.BytesIO(path.read_bytes()), CTX)

    assert sorted(p.name for p in spill_root.iterdir()) == sorted([live.name, other.name])


def test_chunks_prepared_in_worker_processes_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file read with its fast chunks prepared by two worker processes gives the in-process tables."""
    import ingest.apple.fast_pool as fast_pool

    path = tmp_path / "export.xml"
    write_export(path, 600_000, seed=3)
    monkeypatch.setattr(fast_scan, "CHUNK_BYTES", 32 << 10)
    monkeypatch.setattr(fast_scan, "FIRST_CHUNK_BYTES", 4 << 10)
    monkeypatch.setenv("IRISIN_WORKERS", "2")
    safe = read_export_xml(io.BytesIO(path.read_bytes()), CTX, fast=False)
    used: list[int] = []
    real = fast_pool.ProcessPoolExecutor

    def counted(*args: object, **kwargs: object) -> object:
        used.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fast_pool, "ProcessPoolExecutor", counted)
    monkeypatch.setattr(fast_pool, "POOL_MIN_BYTES", 0)
    with path.open("rb") as f:
        pooled = read_export_xml(f, CTX)
    assert used == [1]
    assert_same(pooled, safe)
    taken, total = chunks_taken(pooled)
    assert total > 10 and taken >= total - 2
    assert safe.tables["minutes"].num_rows > 1000
