"""A full disk leaves no temporary files behind (issue 15 item 5).

ENOSPC is injected where the bytes are written (the Parquet writer of the
lake, the derived tables' writer, the quarantine copy, the run record): the
write fails with the disk's error, and the store holds no ``*.tmp`` file and
no half-written part afterwards; once space is back the same run completes.
"""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

import store.quarantine
from config.layout import StudyPaths, init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor, IngestReport
from pipeline.demo.fitbit_files import write_takeout_json
from pipeline.jobs import RunRecord, derive
from store.verify import study_damage
from tests.fitbit.helpers import worn_truth

TZ = "Europe/Oslo"


def _full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _half_written(self: Any, target: Any, *args: Any, **kwargs: Any) -> None:
    """What a write on a full disk does: some bytes land in the file, then ENOSPC."""
    target.write(b"PAR1 partial")
    raise OSError(errno.ENOSPC, "No space left on device")


def _flush_fails(fd: int) -> None:
    """A full disk often shows at fsync: the bytes were accepted, then cannot be stored."""
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture()
def study_dir(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    init_study(root)
    write_roster(pl.DataFrame({"participant_id": ["P01"], "timezone": [TZ]}), root / "roster.csv")
    truth = worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(7, 21))
    export = write_takeout_json(truth, root / "inbox" / "P01" / "export", TZ)
    damaged = next(export.rglob("heart_rate-*.json"))
    damaged.write_bytes(b"{not json")  # so the run also writes a quarantine copy
    return root


def _temporary_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "store").rglob("*") if p.is_file() and ".tmp" in p.name)


def test_a_full_disk_while_writing_lake_parts_leaves_nothing_behind(
    study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = study_dir / "inbox" / "P01" / "export"
    monkeypatch.setattr(pq, "write_table", _full)
    with pytest.raises(OSError, match="No space left"):
        Ingestor(open_study(study_dir)).ingest("P01", [export])
    assert _temporary_files(study_dir) == []
    assert list((study_dir / "store" / "lake").rglob("*.parquet")) == []
    monkeypatch.undo()
    report = Ingestor(open_study(study_dir)).ingest("P01", [export])
    assert {o.status for o in report.outcomes} == {"ok", "quarantined"}
    assert study_damage(StudyPaths(study_dir), None) == []


def test_a_full_disk_while_writing_the_quarantine_copy_leaves_nothing_behind(
    study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []
    real_write_bytes = store.quarantine.write_bytes

    def spy(path: Path, data: bytes, fs: Any = None) -> None:
        written.append(Path(path))
        monkeypatch.setattr(
            os, "fsync", _flush_fails
        )  # the copy's bytes are out, then the disk is full
        real_write_bytes(path, data, fs)

    monkeypatch.setattr(store.quarantine, "write_bytes", spy)
    with pytest.raises(OSError, match="No space left"):
        Ingestor(open_study(study_dir)).ingest("P01", [study_dir / "inbox" / "P01" / "export"])
    assert written and written[0].name.startswith("heart_rate-")
    assert not written[0].exists()
    assert _temporary_files(study_dir) == []


def test_a_full_disk_while_writing_derived_tables_and_the_run_record_leaves_nothing_behind(
    study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = open_study(study_dir)
    Ingestor(study).ingest("P01", [study_dir / "inbox" / "P01" / "export"])
    monkeypatch.setattr(pl.DataFrame, "write_parquet", _half_written)
    with pytest.raises(OSError, match="No space left"):
        derive(study, None)
    monkeypatch.setattr(os, "fsync", _flush_fails)
    with pytest.raises(OSError, match="No space left"):
        RunRecord("nightly", study).finish(IngestReport(), "", "completed")
    assert _temporary_files(study_dir) == []
    assert list((study_dir / "runs").rglob("*.tmp")) == []
    monkeypatch.undo()
    assert derive(study, None).weekly.height > 0
    assert study_damage(StudyPaths(study_dir), None) == []
