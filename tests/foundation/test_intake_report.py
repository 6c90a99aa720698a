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


def _seen(output: str) -> str:
    (line,) = [x for x in output.splitlines() if x.startswith("seen: ")]
    return line


def test_a_second_ingest_counts_the_same_files_and_archive_members_and_reads_nothing(
    tmp_path: Path,
) -> None:
    """Issue 12 item 3: file counts agree across re-runs (a folder's files, an archive's members, a nested zip)."""
    import zipfile

    study = _study(tmp_path)
    export = write_takeout_json(
        worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(6, 22)), tmp_path / "export", TZ
    )
    archive = tmp_path / "drop" / "takeout.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(export.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(export).as_posix())
    members = len(zipfile.ZipFile(archive).namelist())
    with zipfile.ZipFile(export / "inner.zip", "w", zipfile.ZIP_DEFLATED) as zf:  # other bytes
        for f in sorted(export.rglob("*.json")):
            zf.write(f, f.relative_to(export).as_posix())
    on_disk = sum(1 for f in export.rglob("*") if f.is_file()) + 1
    args = ["ingest", "--study", str(study), "-p", "AU01", str(export), str(archive)]

    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, args)

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert _seen(first.output) == (
        f"seen: {on_disk} files on disk ({on_disk} new), {2 * members} archive members (8 new)"
    )  # the outer archive's members are the bytes of the folder's files: known
    assert _seen(second.output) == (
        f"seen: {on_disk} files on disk (0 new), {2 * members} archive members (0 new)"
    )
    assert f"0 new file(s), {on_disk + 2 * members} already ingested" in second.output


def test_the_per_export_lines_are_capped_with_what_was_left_out() -> None:
    """A run over many exports, each with many distinct reasons, says the first ones and how many more."""
    from ingest.pipeline import FileOutcome, IngestReport
    from pipeline.intake_report import MAX_EXPORTS, MAX_REASONS, export_lines

    outcomes = [
        FileOutcome(
            f"{p}{r}",
            f"/inbox/P{p:03d}/drop/f{r}.bin",
            f"P{p:03d}",
            "unknown",
            "skipped",
            f"reason {r}",
        )
        for p in range(MAX_EXPORTS + 7)
        for r in range(MAX_REASONS + 4)
    ]
    outcomes += [
        FileOutcome(
            f"s{k}",
            f"/inbox/P000/drop/copy{k}.json",
            "P000",
            "unknown",
            "skipped",
            f"same bytes as /x/{k}.json",
        )
        for k in range(3)
    ]
    lines = export_lines(IngestReport(outcomes), [])

    assert len(lines) <= MAX_EXPORTS * (MAX_REASONS + 3) + 1
    assert lines[-1].startswith("... and 7 more export(s)")
    first = lines[: lines.index(next(x for x in lines if x.startswith("P001")))]
    assert first[0] == f"P000 /inbox/P000/drop: 0 of {MAX_REASONS + 7} new file(s) read"
    assert any("skipped   3  same bytes as a file read before it" in x for x in first)
    assert (
        first[-1]
        == "    skipped ... and 5 more reason(s), 5 file(s) (irisin export files lists every file)"
    )
