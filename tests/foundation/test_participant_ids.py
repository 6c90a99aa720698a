"""Participant ids are checked once where they enter, and no store path is ever built from an unchecked one.

Each attack of issue 13 item 1 is tried literally: a traversal id from the
command line, from a Fitabase export's own ``Id`` column and from the
roster, a 250-character id, and an id holding ``participant_id=``; after
each, nothing may exist outside the study folder that was not there before.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from config import ConfigError, init_study, open_study
from config.participant_id import MAX_LENGTH, ParticipantIdError, validate_participant_id
from irisin.cli import app
from store.lake import Batch, Lake

runner = CliRunner()

TRAVERSAL = "../../../../../../../../outside"
LONG = "P" * 250
GOOD_ID = "1503960366"


def _tree(root: Path, exclude: Path) -> set[str]:
    """Every path under ``root`` except those under ``exclude`` (the study)."""
    return {str(p) for p in root.rglob("*") if exclude not in p.parents and p != exclude}


def _fitabase_csv(folder: Path, ids: list[str]) -> Path:
    """A Fitabase minute-intensity export: ten minutes per Id."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Id,ActivityMinute,Intensity"]
    for pid in ids:
        lines += [f"{pid},4/12/2016 {h}:{m:02d}:00 PM,2" for h in (1,) for m in range(10)]
    path = folder / "minuteIntensitiesNarrow_merged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    """``(tmp_path, study)``: a study inside a folder whose other contents must stay untouched."""
    study = tmp_path / "study"
    init_study(study)
    (tmp_path / "outside-marker").write_text("x")
    return tmp_path, study


@pytest.mark.parametrize("good", ["P01", "p-01", "a_b.c", "0", "X" * MAX_LENGTH, "ZZ.99"])
def test_valid_ids_are_returned_unchanged(good: str) -> None:
    assert validate_participant_id(good) == good


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("", "is empty"),
        (".", "starts with '.'"),
        ("..", "starts with '.'"),
        (".hidden", "starts with '.'"),
        ("../pwn", "starts with '.'"),
        ("a/../../b", "contains '/'"),
        ("a\\b", "contains '\\\\'"),
        ("P 01", "contains ' '"),
        ("P01 ", "contains ' '"),
        ("Pø1", "contains 'ø'"),
        ("a\x00b", "contains '\\x00'"),
        ("x" * (MAX_LENGTH + 1), "is 65 characters long, more than 64"),
        (LONG, "is 250 characters long, more than 64"),
        ("P01/participant_id=P02", "contains '/', '='"),
    ],
)
def test_invalid_ids_are_refused_naming_value_and_rule(bad: str, problem: str) -> None:
    with pytest.raises(ParticipantIdError) as e:
        validate_participant_id(bad, "--participant")
    message = str(e.value)
    assert message.startswith("--participant ")
    assert problem in message
    assert (
        "letters A-Z a-z, digits, '-', '_' and '.' only, at most 64 characters, not starting with '.'"
        in message
    )
    assert len(message) < 400  # a 250-character id is shortened in the message, not pasted whole


@pytest.mark.parametrize("bad", [TRAVERSAL, LONG, "P01/participant_id=P02", "a b"])
def test_cli_participant_is_refused_and_nothing_is_written(
    world: tuple[Path, Path], bad: str
) -> None:
    tmp, study = world
    export = _fitabase_csv(tmp / "export", [GOOD_ID])
    before = _tree(tmp, study)
    result = runner.invoke(
        app, ["ingest", "--study", str(study), "--participant", bad, str(export)]
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: participant id for ")
    assert "a participant id must use letters" in result.output
    assert _tree(tmp, study) == before
    assert not (study / "store" / "lake" / "files").exists()


def test_fitabase_id_from_file_content_cannot_leave_the_study(world: tuple[Path, Path]) -> None:
    """``--participant-from-id`` takes ids from the file: bad ones are left out and named, good ones land."""
    tmp, study = world
    export = _fitabase_csv(tmp / "export", [GOOD_ID, TRAVERSAL, LONG])
    before = _tree(tmp, study)
    result = runner.invoke(
        app,
        [
            "ingest",
            "--study",
            str(study),
            "--participant",
            "P01",
            "--participant-from-id",
            str(export),
        ],
    )
    assert result.exit_code == 0, result.output
    assert _tree(tmp, study) == before
    lake = Lake(study / "store" / "lake")
    assert lake.participants() == [GOOD_ID]
    minutes = lake.scan("minutes").collect()
    assert minutes["participant_id"].unique().to_list() == [GOOD_ID]
    assert minutes.height == 10
    (row,) = lake.manifest().iter_rows(named=True)
    assert row["status"] == "partial"
    assert "'../../../../../../../../outside' starts with '.' (10 rows)" in row["reason"]
    assert "is 250 characters long, more than 64 (10 rows)" in row["reason"]
    assert "partial" in result.output and "invalid participant id" in result.output
    # every lake file sits two levels below a table folder, in a folder named by a valid id
    for part in (study / "store" / "lake").rglob("*.parquet"):
        assert part.parent.name == f"participant_id={GOOD_ID}"


def test_fitabase_id_only_bad_ids_quarantines_the_file(world: tuple[Path, Path]) -> None:
    tmp, study = world
    export = _fitabase_csv(tmp / "export", [TRAVERSAL])
    before = _tree(tmp, study)
    result = runner.invoke(
        app,
        [
            "ingest",
            "--study",
            str(study),
            "--participant",
            "P01",
            "--participant-from-id",
            str(export),
        ],
    )
    assert result.exit_code == 0, result.output
    assert _tree(tmp, study) == before
    (row,) = Lake(study / "store" / "lake").manifest().iter_rows(named=True)
    assert (row["participant_id"], row["status"]) == ("P01", "quarantined")
    assert row["rows_minutes"] == 0


def test_roster_reports_every_bad_id_at_once(world: tuple[Path, Path]) -> None:
    tmp, study = world
    (study / "roster.csv").write_text(
        "participant_id,timezone,fitabase_id\n"
        f"P01,Europe/Oslo,{GOOD_ID}\n"
        f"{TRAVERSAL},Europe/Oslo,2022484408\n"
        f"{LONG},Europe/Oslo,\n"
        "P01/participant_id=P02,Europe/Oslo,\n"
        ".hidden,Europe/Oslo,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--study", str(study)])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line
    assert "4 invalid participant_id(s)" in line
    assert f"row 3: {TRAVERSAL!r} starts with '.'" in line
    assert "row 4: 'PPPP" in line and "is 250 characters long, more than 64" in line
    assert "row 5: 'P01/participant_id=P02' contains '/', '='" in line
    assert "row 6: '.hidden' starts with '.'" in line
    assert "P01," not in line.split("(", 1)[1].split(";")[0]  # the good row is not named


def test_roster_traversal_through_fitabase_id_writes_nothing(world: tuple[Path, Path]) -> None:
    """The roster maps a Fitabase Id to a traversal id: the study does not open, so nothing is read or written."""
    tmp, study = world
    (study / "roster.csv").write_text(
        f"participant_id,timezone,fitabase_id\n{TRAVERSAL},Europe/Oslo,{GOOD_ID}\n",
        encoding="utf-8",
    )
    export = _fitabase_csv(tmp / "export", [GOOD_ID])
    before = _tree(tmp, study)
    result = runner.invoke(
        app, ["ingest", "--study", str(study), "--participant", "P01", str(export)]
    )
    assert result.exit_code == 2
    assert "invalid participant_id" in result.output
    assert _tree(tmp, study) == before
    with pytest.raises(ConfigError):
        open_study(study)


def test_inbox_folder_with_bad_name_is_refused_by_the_ingestor(world: tuple[Path, Path]) -> None:
    from pipeline.jobs import inbox_items, ingest_item

    tmp, study = world
    _fitabase_csv(study / "inbox" / LONG, [GOOD_ID])
    (item,) = inbox_items(open_study(study))
    with pytest.raises(ParticipantIdError, match="is 250 characters long"):
        ingest_item(open_study(study), item)
    assert not (study / "store" / "lake" / "files").exists()


def _batch(pid: str) -> Batch:
    minutes = pa.table(
        {
            "participant_id": [pid],
            "minute_utc": pa.array([0], pa.timestamp("us", tz="UTC")),
            "source": ["fitbit_takeout"],
            "file_id": [f"f-{pid}"],
        }
    )
    manifest = pa.table(
        {
            "file_id": [f"f-{pid}"],
            "path": [f"{pid}.json"],
            "participant_id": [pid],
            "kind": ["test"],
            "size_bytes": [1],
            "status": ["ok"],
            "rows_minutes": [1],
            "rows_daily_totals": [0],
            "rows_sessions": [0],
            "ingested_at": pa.array([0], pa.timestamp("us", tz="UTC")),
        }
    )
    return Batch(pid, {"minutes": minutes}, manifest)


def test_lake_never_builds_a_path_from_a_bad_id(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    for bad in (TRAVERSAL, LONG, "a/participant_id=b", ".."):
        with pytest.raises(ParticipantIdError):
            lake.write_batch(_batch(bad))
        with pytest.raises(ParticipantIdError):
            lake.scan("minutes", [bad])
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_lake_reads_ids_from_its_own_folder_names_only(tmp_path: Path) -> None:
    """A lake under a folder named ``participant_id=...`` lists more than 16 participants without losing rows."""
    lake = Lake(tmp_path / "participant_id=root" / "lake")
    pids = [f"P{i:02d}.participant_id" for i in range(20)]
    for pid in pids:
        lake.write_batch(_batch(pid))
    assert lake.participants() == sorted(pids)
    many = lake.scan(
        "minutes", pids
    ).collect()  # more than FOLDERS_LISTED_ONE_BY_ONE: one listing, filtered
    assert sorted(many["participant_id"].to_list()) == sorted(pids)
    few = lake.scan("minutes", pids[:3]).collect()
    assert sorted(few["participant_id"].to_list()) == sorted(pids[:3])
    assert pl.Series(lake.committed_batches()).len() == 20
