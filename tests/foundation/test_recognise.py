"""Exports are recognised at any depth from file names and contents, never from ancestor folder names."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor
from ingest.recognise import FITBIT, GARMIN, recognise
from pipeline.demo.fitbit_files import write_takeout_csv, write_takeout_json
from tests.fitbit.helpers import worn_truth, zip_folder

TZ = "Australia/Brisbane"


@pytest.fixture()
def ingestor(tmp_path: Path) -> Ingestor:
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["AU01"], "timezone": [TZ]}),
        tmp_path / "study" / "roster.csv",
    )
    return Ingestor(open_study(tmp_path / "study"))


def _flatten(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in src.rglob("*"):
        if f.is_file():
            shutil.copy(f, dest / f.name)
    return dest


@pytest.mark.parametrize(
    "layout",
    [
        "user-site-export",
        "MyFitbitData/Jane Doe/Physical Activity",
        "Takeout 2026/Health data (renamed)/x",
    ],
)
def test_legacy_json_export_is_read_wherever_it_was_dropped(
    tmp_path: Path, ingestor: Ingestor, layout: str
) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(6, 22))
    written = write_takeout_json(truth, tmp_path / "export", TZ)
    inbox = ingestor.study.paths.inbox / "AU01"
    _flatten(written, inbox / layout)
    top = inbox / layout.split("/")[0]
    report = ingestor.ingest("AU01", [top])
    statuses = {o.status for o in report.outcomes}
    assert statuses == {"ok"}, [
        (o.path, o.status, o.reason) for o in report.outcomes if o.status != "ok"
    ]
    assert len(report.outcomes) == sum(1 for f in top.rglob("*") if f.is_file())
    minutes = ingestor.lake.scan("minutes").collect()
    assert minutes.height > 0 and set(minutes["participant_id"]) == {"AU01"}


def test_csv_takeout_with_renamed_fitbit_folder_in_a_zip(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(6, 22))
    written = write_takeout_csv(truth, tmp_path / "export", TZ)
    renamed = _flatten(
        written, tmp_path / "drop" / "takeout-20250101T000000Z-001" / "Takeout" / "My watch"
    )
    archive = zip_folder(renamed.parent.parent, tmp_path / "takeout.zip")
    report = ingestor.ingest("AU01", [archive])
    read = [o for o in report.outcomes if o.kind.startswith("fitbit_csv")]
    assert read and {o.status for o in read} == {"ok"}
    assert ingestor.lake.scan("minutes").collect().height > 0


def test_content_decides_and_the_decision_is_in_the_manifest(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    # named like a Fitbit steps file, but holds a Garmin daily summary: not read as Fitbit
    (folder / "steps-2026-03-02.json").write_text(
        '[{"calendarDate": "2026-03-02", "totalSteps": 10}]'
    )
    report = ingestor.ingest("AU01", [folder])
    (out,) = report.outcomes
    assert out.status == "skipped" and "content is garmin_export's" in (out.reason or "")
    manifest = ingestor.lake.manifest()
    assert manifest["reason"].to_list() == [out.reason]


def test_recognition_from_name_and_content() -> None:
    assert (
        recognise("a/b/c/steps_2024-01-01.csv", b"timestamp,steps\n2024-01-01T00:00:00Z,3\n").family
        == FITBIT
    )
    assert recognise("x/UDSFile_1_2.json", b'[{"calendarDate": "2025-01-01"}]').family == GARMIN
    assert (
        recognise(
            "deep/x_0_summarizedActivities.json", b'[{"summarizedActivitiesExport": []}]'
        ).family
        == GARMIN
    )
    assert recognise("notes.txt", b"hello").family is None
    damaged = recognise("heart_rate-2026-03-03.json", b"\x00\x01garbage")
    assert (
        damaged.family == FITBIT and not damaged.ambiguous
    )  # left to its reader, which quarantines it
