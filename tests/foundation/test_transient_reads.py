"""Transient is not terminal (issue 15 item 4), at the ingest pipeline.

The faults are raised deep inside real readers (the Takeout JSON byte
scanner, the FIT decoder, the zip member stream), not above them: the
pipeline must pass them up for a retry and record nothing, so the file is
neither quarantined nor marked known, and a later attempt reads it whole.
A reader that cannot be imported stops the ingestor before any file is read.
"""

from __future__ import annotations

import errno
import importlib
import zipfile
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.contract import ReaderUnavailable, TransientInputError
from ingest.pipeline import Ingestor
from pipeline.demo.fit_files import write_monitoring_days
from pipeline.demo.fitbit_files import write_takeout_json
from tests.fitbit.helpers import worn_truth, zip_folder

TZ = "Europe/Oslo"


@pytest.fixture()
def study_dir(tmp_path: Path) -> Path:
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": [TZ]}),
        tmp_path / "study" / "roster.csv",
    )
    return tmp_path / "study"


@pytest.fixture(scope="module")
def truth() -> pl.DataFrame:
    return worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(7, 21))


def _nothing_recorded(study_dir: Path) -> None:
    ingestor = Ingestor(open_study(study_dir))
    assert ingestor.lake.manifest().height == 0
    assert not list((study_dir / "store" / "quarantine").rglob("*.*"))


def test_a_transient_error_inside_the_takeout_json_scanner_is_raised_and_the_next_try_reads_everything(
    tmp_path: Path, study_dir: Path, truth: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.fitbit.json_family as json_family

    root = write_takeout_json(truth, tmp_path / "export", TZ)
    real = json_family.scan_stamped_integers

    def locked(raw: bytes, key: bytes, quoted: bool) -> Any:
        if key == b"bpm":
            raise TransientInputError("heart_rate file locked by the sync client")
        return real(raw, key, quoted)

    monkeypatch.setattr(json_family, "scan_stamped_integers", locked)
    with pytest.raises(TransientInputError, match="locked by the sync client"):
        Ingestor(open_study(study_dir)).ingest("P01", [root])
    _nothing_recorded(study_dir)

    monkeypatch.setattr(json_family, "scan_stamped_integers", real)
    report = Ingestor(open_study(study_dir)).ingest("P01", [root])
    assert {o.status for o in report.outcomes} == {"ok"}
    minutes = Ingestor(open_study(study_dir)).lake.scan("minutes").collect()
    assert minutes.filter(pl.col("heart_rate_bpm").is_not_null()).height == truth.height


def test_an_oserror_while_reading_an_archive_member_is_raised_not_quarantined(
    tmp_path: Path, study_dir: Path, truth: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = zip_folder(
        write_takeout_json(truth, tmp_path / "export", TZ), tmp_path / "takeout.zip"
    )
    real_read = zipfile.ZipExtFile.read
    calls = {"n": 0}

    def storage_away(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:  # the third member read: the mount went away for a moment
            raise OSError(errno.EIO, "Input/output error")
        return real_read(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", storage_away)
    with pytest.raises(OSError, match="Input/output error"):
        Ingestor(open_study(study_dir)).ingest("P01", [archive])
    _nothing_recorded(study_dir)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", real_read)
    report = Ingestor(open_study(study_dir)).ingest("P01", [archive])
    assert "quarantined" not in {o.status for o in report.outcomes}
    assert sum(o.status == "ok" for o in report.outcomes) >= 6


def test_a_transient_error_inside_the_fit_decoder_is_raised(
    tmp_path: Path, study_dir: Path, truth: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.fit.reader as fit_reader

    local_day = (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))).dt.date()
    day = truth.filter(local_day == truth.select(local_day.min()).item())
    (fit,) = write_monitoring_days(day, tmp_path / "fit", device_serial=3_900_000_001)

    def flaky(*args: Any, **kwargs: Any) -> Any:
        raise TransientInputError("device storage briefly unavailable")

    real = fit_reader.decode_fit
    monkeypatch.setattr(fit_reader, "decode_fit", flaky)
    with pytest.raises(TransientInputError):
        Ingestor(open_study(study_dir)).ingest("P01", [fit])
    _nothing_recorded(study_dir)
    monkeypatch.setattr(fit_reader, "decode_fit", real)
    (outcome,) = Ingestor(open_study(study_dir)).ingest("P01", [fit]).outcomes
    assert outcome.status == "ok" and outcome.rows["minutes"] == day.height


def test_a_reader_that_cannot_be_imported_stops_the_ingestor_naming_it(
    study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.import_module

    def broken(name: str, package: str | None = None) -> ModuleType:
        if name == "ingest.garmin":
            raise ModuleNotFoundError("No module named 'orjson'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(
        ReaderUnavailable, match=r"ingest\.garmin\.looks_like_garmin_export.*orjson"
    ):
        Ingestor(open_study(study_dir))
