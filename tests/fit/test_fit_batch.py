"""Batched FIT conversion equals file-by-file conversion, row for row and outcome for outcome.

``ingest.fit.reader.read_fits`` decodes each file alone and converts every
monitoring file of a batch in one pass over their concatenated columns. Here
the same files are read both ways: generated demo days in three zones across
DST, a demo activity, the hand-written reader fixtures, damaged copies (cut
short, a flipped CRC byte, bytes that are not FIT) and, where present, every
file of the shared FIT corpus. Results must be equal in kind, status, reason,
notes and every table. Then the same inbox goes through the ingest pipeline
both ways (one folder read as a batch, against each file ingested alone), and
the lake rows and manifest outcomes must be the same, including the damaged
files' partial and quarantined rows, isolated to their own files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from config import open_study
from config.layout import default_study_toml
from ingest.contract import ReadContext, ReadResult
from ingest.fit.reader import read_fit, read_fits
from ingest.pipeline import Ingestor, read_fit_guarded, read_fits_guarded
from pipeline.jobs import lake_of
from tests.fit.corpus import corpus_files, require_corpus
from tests.fit.test_fit_reader import _monitoring_file

ZONES = ("America/New_York", "Europe/Oslo", "Asia/Kolkata")


def _demo_files(tmp: Path) -> list[bytes]:
    """Two weeks of demo monitoring days in three zones (spanning the 2024 DST changes), and an activity."""
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import activity_bytes, write_monitoring_days

    out: list[bytes] = []
    for k, zone in enumerate(ZONES):
        p = DemoParticipant(f"P{k}", zone, 1970, 60, 175, "fit", 40)
        truth = truth_minutes(p, seed=k, weeks=2)
        out += [f.read_bytes() for f in write_monitoring_days(truth, tmp / str(k), device_serial=k)]
        if k == 0:
            first = truth["minute_utc"].min()
            assert isinstance(first, datetime)
            start = first.replace(hour=12, minute=0)
            out.append(activity_bytes(truth, start, start.replace(hour=13), "running"))
    return out


def _damaged(files: list[bytes]) -> list[bytes]:
    """A cut-short copy, a copy with one CRC byte flipped, and bytes that are not FIT."""
    day = files[0]
    crc_flipped = day[:-1] + bytes([day[-1] ^ 0xFF])
    return [day[: len(day) // 2], crc_flipped, b"not a FIT file at all" * 10]


def _assert_same(batched: ReadResult, alone: ReadResult, what: str) -> None:
    assert (batched.kind, batched.status, batched.reason) == (
        alone.kind,
        alone.status,
        alone.reason,
    ), what
    assert batched.notes == alone.notes, what
    assert sorted(batched.tables) == sorted(alone.tables), what
    for name, table in alone.tables.items():
        assert batched.tables[name].schema == table.schema, f"{what}: {name}"
        assert batched.tables[name].equals(table), f"{what}: {name} rows differ"


def _read_both_ways(files: list[bytes], zones: tuple[str | None, ...]) -> None:
    jobs = [
        (data, ReadContext(f"P{k % 3}", f"f{k}", f"f{k}.fit", timezone=zones[k % len(zones)]))
        for k, data in enumerate(files)
    ]
    batched = read_fits(jobs)
    assert len(batched) == len(jobs)
    statuses = set()
    for k, ((data, ctx), got) in enumerate(zip(jobs, batched, strict=True)):
        assert isinstance(got, ReadResult), f"file {k} raised {got!r}"
        alone = read_fit(data, ctx)
        _assert_same(got, alone, f"file {k} ({ctx.timezone})")
        statuses.add(alone.status)
    assert "ok" in statuses


def test_batched_conversion_equals_file_by_file_on_demo_files(tmp_path: Path) -> None:
    files = _demo_files(tmp_path)
    files += [
        _monitoring_file(),
        _monitoring_file(start_local=1_000_022_400 - 1_000_022_400 % 86400 + 7200),
    ]
    files += _damaged(files)
    # zones that agree with the files, one that does not, an unknown name and none
    _read_both_ways(files, (*ZONES, "Europe/Oslo", "Not/AZone", None))
    results = read_fits([(d, ReadContext("P", "f", "f.fit", timezone="UTC")) for d in files])
    assert {r.status for r in results if isinstance(r, ReadResult)} >= {
        "ok",
        "partial",
        "quarantined",
    }
    minutes = [
        r.tables["minutes"].num_rows for r in results if isinstance(r, ReadResult) and r.tables
    ]
    assert sum(minutes) > 10_000  # real days were converted, not empty tables compared


def test_batched_conversion_equals_file_by_file_on_the_shared_corpus() -> None:
    require_corpus()
    files = [p.read_bytes() for p in corpus_files()]
    _read_both_ways(files, ("Europe/Oslo", None, "America/Los_Angeles"))


def test_a_reader_fault_in_the_batch_conversion_stays_with_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file on which the conversion raises is quarantined with the error; its batch mates land as alone."""
    import ingest.fit.monitoring as monitoring
    import ingest.fit.reader as reader

    files = _demo_files(tmp_path)[:6]
    poisoned = files[3]
    real = monitoring.monitoring_tables_many

    def failing(batch):  # type: ignore[no-untyped-def]
        if any(f.table is poison_table[0] for f in batch):
            raise ValueError("simulated reader bug")
        return real(batch)

    poison_table: list[object] = [None]
    real_start = reader._start

    def start(data, ctx):  # type: ignore[no-untyped-def]
        started = real_start(data, ctx)
        if data is poisoned and not isinstance(started, ReadResult):
            poison_table[0] = started.file.table
        return started

    monkeypatch.setattr(reader, "monitoring_tables_many", failing)
    monkeypatch.setattr(reader, "_start", start)
    ctx = ReadContext("P0", "f", "f.fit", timezone=ZONES[0])
    got = read_fits_guarded([(d, ctx) for d in files])
    assert got[3].status == "quarantined"
    assert got[3].reason == "FIT reader failed: ValueError: simulated reader bug"
    monkeypatch.undo()
    for k in (0, 1, 2, 4, 5):
        _assert_same(got[k], read_fit_guarded(files[k], ctx), f"file {k}")


def _study(root: Path) -> Path:
    (root / "inbox").mkdir(parents=True)
    (root / "study.toml").write_text(default_study_toml(), encoding="utf-8")
    pl.DataFrame({"participant_id": ["P01"], "timezone": ["America/New_York"]}).write_csv(
        root / "roster.csv"
    )
    return root


def _lake_rows(root: Path) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    lake = lake_of(open_study(root))
    tables = {}
    for name in ("minutes", "daily_totals", "sessions", "profiles"):
        frame = lake.scan(name).collect()
        tables[name] = frame.sort(frame.columns)
    manifest = (
        lake.manifest()
        .select("file_id", "kind", "status", "reason", "rows_minutes", "rows_daily_totals", "notes")
        .with_columns(
            pl.col("notes").map_elements(
                lambda n: json.dumps(json.loads(n), sort_keys=True), pl.String
            )
        )
        .sort("file_id")
    )
    return tables, manifest


def test_batched_ingest_gives_the_lake_and_manifest_of_file_by_file_ingest(tmp_path: Path) -> None:
    files = _demo_files(tmp_path / "gen")
    files += _damaged(files)
    clock = lambda: datetime(2030, 1, 1, tzinfo=UTC)  # noqa: E731
    batched, alone = _study(tmp_path / "batched"), _study(tmp_path / "alone")
    folder = batched / "inbox" / "P01" / "garmin-sync"
    folder.mkdir(parents=True)
    loose = alone / "inbox" / "P01"
    loose.mkdir(parents=True)
    for k, data in enumerate(files):
        (folder / f"{k:03d}.fit").write_bytes(data)
        (loose / f"{k:03d}.fit").write_bytes(data)
    Ingestor(open_study(batched), clock=clock).ingest_one("P01", folder)  # one batch of every file
    one_by_one = Ingestor(open_study(alone), clock=clock)
    for path in sorted(loose.iterdir()):
        one_by_one.ingest_one("P01", path)  # each file read alone
    got_tables, got_manifest = _lake_rows(batched)
    want_tables, want_manifest = _lake_rows(alone)
    for name, want in want_tables.items():
        got = got_tables[name].drop("batch_id", strict=False)
        assert got.equals(want.drop("batch_id", strict=False)), name
    assert want_tables["minutes"].height > 10_000
    assert got_manifest.equals(want_manifest)
    assert set(want_manifest["status"]) == {"ok", "partial", "quarantined"}
    quarantined = want_manifest.filter(pl.col("status") == "quarantined")
    assert quarantined["reason"].str.starts_with("not a FIT file").any()
    assert quarantined["rows_minutes"].sum() == 0
    assert want_manifest.filter(pl.col("status") == "partial")["rows_minutes"].sum() > 0
