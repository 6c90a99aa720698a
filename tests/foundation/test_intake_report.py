"""`irisin ingest` says per export what it read, skipped and quarantined, and warns when nothing could be read."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from config.layout import init_study
from config.roster import write_roster
from irisin.cli import app
from pipeline.demo.fitbit_files import write_takeout_json
from tests.fitbit.helpers import worn_truth

TZ = "Australia/Brisbane"


def _study(tmp_path: Path) -> Path:
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["AU01"], "timezone": [TZ]}),
        tmp_path / "study" / "roster.csv",
    )
    return tmp_path / "study"


def test_per_export_lines_group_skips_by_reason_with_an_example(tmp_path: Path) -> None:
    study = _study(tmp_path)
    export = write_takeout_json(
        worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(6, 22)), tmp_path / "export", TZ
    )
    for name in ("a.txt", "b.txt", "c.txt"):
        (export / name).write_text(f"notes {name}")
    result = CliRunner().invoke(
        app, ["ingest", "--study", str(study), "--participant", "AU01", str(export)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    json_files = sum(1 for f in export.rglob("*.json"))
    assert f"AU01 {export}: {json_files} of {json_files + 3} new file(s) read" in lines
    (skip,) = [line for line in lines if "skipped" in line and "a.txt" in line]
    assert skip.split()[1] == "3" and "not a file irisin reads" in skip
    assert "needs attention" not in result.output


def test_nothing_readable_ends_with_a_warning_naming_folder_and_reason(tmp_path: Path) -> None:
    study = _study(tmp_path)
    folder = tmp_path / "drop"
    folder.mkdir()
    for name in ("readme.txt", "photo.jpg"):
        (folder / name).write_bytes(name.encode())
    result = CliRunner().invoke(
        app, ["ingest", "--study", str(study), "--participant", "AU01", str(folder)]
    )
    assert result.exit_code == 0
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("warning: needs attention: nothing in") and str(folder) in last
    assert "AU01 (2 file(s)): not a file irisin reads" in last


def test_unknown_takeout_labels_are_counted_in_the_notes_and_the_report(tmp_path: Path) -> None:
    study = _study(tmp_path)
    folder = tmp_path / "export" / "Takeout" / "Fitbit" / "Physical Activity_GoogleData"
    folder.mkdir(parents=True)
    (folder / "activity_level_2026-03-01.csv").write_text(
        "timestamp,level,data source\n"
        "2026-03-02T09:00:00Z,MODERATELY_ACTIVE,WATCH\n"
        "2026-03-02T09:01:00Z,SUPER_ACTIVE,WATCH\n"
        "2026-03-02T09:02:00Z,SUPER_ACTIVE,WATCH\n"
        "2026-03-02T09:03:00Z,RESTING,WATCH\n"
    )
    (folder / "active_zone_minutes_2026-03-01.csv").write_text(
        "timestamp,heart rate zone,total minutes\n"
        "2026-03-02T09:00:00Z,fat_burn,1\n"
        "2026-03-02T09:01:00Z,out of range,0\n"
    )
    result = CliRunner().invoke(
        app, ["ingest", "--study", str(study), "--participant", "AU01", str(tmp_path / "export")]
    )
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if "label irisin does not know" in x]
    assert line.split()[2] == "4" and "in 2 file(s)" in line

    from config.layout import open_study
    from ingest.pipeline import Ingestor

    manifest = Ingestor(open_study(study)).lake.manifest()
    notes = {
        p.rsplit("/", 1)[-1]: json.loads(n) for p, n in manifest.select("path", "notes").iter_rows()
    }
    level = notes["activity_level_2026-03-01.csv"]
    assert level["labels_unknown"] == {"SUPER_ACTIVE": 2, "RESTING": 1}
    assert level["labels_unknown_records"] == 3
    assert notes["active_zone_minutes_2026-03-01.csv"]["labels_unknown"] == {"out_of_range": 1}
