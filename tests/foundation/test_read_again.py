"""Issue 12 item 2: a file that was not read is remembered with what decided it, and read again when that changes.

Literal cases: an archive refused by the limit, the limit raised in
study.toml, the archive read; a file skipped by one reader version and read
after the version bump (and not re-read without one); re-runs idempotent.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

import ingest.activity_xml.version
import ingest.pipeline
from config import init_study, open_study
from ingest.pipeline import Ingestor
from ingest.versions import reader_versions
from pipeline.demo.fitbit_files import write_takeout_json
from store.lake import Lake
from tests.fitbit.helpers import worn_truth

TZ = "Europe/Oslo"


def _study(tmp_path: Path) -> Path:
    study = tmp_path / "study"
    init_study(study)
    (study / "roster.csv").write_text(f"participant_id,timezone\nP01,{TZ}\n", encoding="utf-8")
    return study


def _set(study: Path, key: str, value: str) -> None:
    toml = study / "study.toml"
    lines = [
        f"{key} = {value}" if line.split("=")[0].strip() == key else line
        for line in toml.read_text().splitlines()
    ]
    toml.write_text("\n".join(lines) + "\n")


def _takeout_zip(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    truth = worn_truth(datetime(2026, 3, 2), 7, TZ, hours=(6, 22))
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for f in sorted(root.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(root).as_posix())
    return archive, truth


def test_archive_refused_by_the_limit_is_read_once_the_limit_is_raised(tmp_path: Path) -> None:
    study = _study(tmp_path)
    archive, truth = _takeout_zip(tmp_path)
    _set(study, "archive_ratio_floor_bytes", "0")
    _set(study, "archive_max_expansion_ratio", "1.5")
    first = Ingestor(open_study(study)).ingest("P01", [archive])
    assert [(o.kind, o.status) for o in first.outcomes] == [("refused", "quarantined")]
    man = Lake(study / "store" / "lake").manifest()
    row = man.row(0, named=True)
    settings = json.loads(row["settings"])
    assert settings["archive_limits"]["max_expansion_ratio"] == 1.5
    assert json.loads(row["reader_versions"]) == {"archive": reader_versions()["archive"]}
    assert row["settings_hash"]

    # the same limit: nothing is read again
    assert Ingestor(open_study(study)).ingest("P01", [archive]).new_files == 0

    _set(study, "archive_max_expansion_ratio", "200.0")
    ing = Ingestor(open_study(study))
    due = ing.retry_due()
    assert list(due.values()) == ["settings changed: archive_limits.max_expansion_ratio"]
    second = ing.ingest("P01", [archive])
    assert second.new_files > 5
    assert {o.status for o in second.outcomes if o.kind != "zip"} == {"ok"}
    lake = Lake(study / "store" / "lake")
    minutes = lake.scan("minutes").collect()
    assert minutes.height > 0.9 * truth.height
    man = lake.manifest()
    old = man.filter(pl.col("kind") == "refused")
    assert old["status"].to_list() == ["retired"]  # kept as history, marked
    assert lake.retirements()["reason"].to_list() == [
        "read again: settings changed: archive_limits.max_expansion_ratio"
    ]
    # and idempotent from here
    assert Ingestor(open_study(study)).ingest("P01", [archive]).new_files == 0
    assert Lake(study / "store" / "lake").scan("minutes").collect().height == minutes.height


TCX = b"""<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">
 <Activities><Activity Sport="Running"><Id>2026-03-03T07:00:00Z</Id>
  <Lap StartTime="2026-03-03T07:00:00Z"><TotalTimeSeconds>1200</TotalTimeSeconds>
   <DistanceMeters>4000</DistanceMeters><Calories>300</Calories><Track>
   %s
   </Track></Lap></Activity></Activities></TrainingCenterDatabase>"""


def _tcx() -> bytes:
    points = "".join(
        f"<Trackpoint><Time>2026-03-03T07:{m:02d}:00Z</Time>"
        f"<HeartRateBpm><Value>{150 + m % 5}</Value></HeartRateBpm></Trackpoint>"
        for m in range(20)
    )
    return TCX % points.encode()


def test_file_skipped_by_one_reader_version_is_read_after_the_bump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 1 of the activity reader does not know TCX; version 2 does: the skipped file is read by itself."""
    study = _study(tmp_path)
    run = tmp_path / "run.tcx"
    run.write_bytes(_tcx())
    without_xml = tuple(k for k in ingest.pipeline.BUNDLE_KINDS if k.name != "activity_xml")
    with monkeypatch.context() as m:
        m.setattr(ingest.pipeline, "BUNDLE_KINDS", without_xml)
        first = Ingestor(open_study(study)).ingest("P01", [run])
    assert [o.status for o in first.outcomes] == ["skipped"]
    row = Lake(study / "store" / "lake").manifest().row(0, named=True)
    assert (
        json.loads(row["reader_versions"]) == reader_versions()
    )  # no reader claimed it: all decided

    # the reader is back but its version is the same: the file is not read again
    assert Ingestor(open_study(study)).ingest("P01", [run]).new_files == 0

    monkeypatch.setattr(ingest.activity_xml.version, "READER_VERSION", 2)
    ing = Ingestor(open_study(study))
    assert list(ing.retry_due().values()) == ["activity_xml reader 1 -> 2"]
    second = ing.ingest("P01", [run])
    assert [o.status for o in second.outcomes] == ["ok"]
    lake = Lake(study / "store" / "lake")
    assert lake.scan("sessions").collect().height == 1
    assert lake.manifest()["status"].sort().to_list() == ["ok", "retired"]
    assert Ingestor(open_study(study)).ingest("P01", [run]).new_files == 0


def test_member_of_an_archive_is_read_again_with_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A skipped member makes its archive new again; the members read before are not read twice."""
    study = _study(tmp_path)
    archive, _ = _takeout_zip(tmp_path)
    data = io.BytesIO(archive.read_bytes())
    with zipfile.ZipFile(data, "a") as zf:
        zf.writestr("Takeout/Fitbit/run.tcx", _tcx())
    archive.write_bytes(data.getvalue())
    without_xml = tuple(k for k in ingest.pipeline.BUNDLE_KINDS if k.name != "activity_xml")
    with monkeypatch.context() as m:
        m.setattr(ingest.pipeline, "BUNDLE_KINDS", without_xml)
        Ingestor(open_study(study)).ingest("P01", [archive])
    lake = Lake(study / "store" / "lake")
    minutes = lake.scan("minutes").collect().height
    skipped = lake.manifest().filter(pl.col("status") == "skipped")
    assert skipped["path"].to_list() == [f"{archive}!/Takeout/Fitbit/run.tcx"]

    monkeypatch.setattr(ingest.activity_xml.version, "READER_VERSION", 2)
    again = Ingestor(open_study(study)).ingest("P01", [archive])
    new = sorted((o.path.rsplit("!/", 1)[-1], o.status) for o in again.outcomes if o.new)
    assert new == [(str(archive), "ok"), ("Takeout/Fitbit/run.tcx", "ok")]
    assert all(o.kind == "known" for o in again.outcomes if not o.new)  # listed, not read
    lake = Lake(study / "store" / "lake")
    rows = lake.scan("minutes").collect()
    assert rows.height == minutes + 20  # the run's 20 minutes; the Takeout's not counted twice
    assert rows.select("file_id", "minute_utc", "source").is_duplicated().sum() == 0
    assert lake.scan("sessions").collect().height == 1
    live = lake.manifest().filter(pl.col("status") != "retired")
    assert live.filter(pl.col("kind") == "zip").height == 1
    assert Ingestor(open_study(study)).ingest("P01", [archive]).new_files == 0
