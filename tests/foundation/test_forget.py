"""Issue 12 item 2: ``irisin forget`` and ``irisin reprocess``, as a coordinator would use them.

Literal case: a Takeout filed under ZZ99 by mistake, forgotten, filed again
under P01, gives exactly the weekly rows a clean run gives P01; the raw files
are never touched and the lake keeps the retired rows as history.
"""

from __future__ import annotations

import hashlib
import zipfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from irisin.cli import app
from pipeline.demo.fitbit_files import write_takeout_json
from store.lake import Lake
from tests.fitbit.helpers import worn_truth
from tests.notes_state import assert_notes_state_matches_lake

TZ = "Europe/Oslo"
ROSTER = f"participant_id,timezone\nP01,{TZ}\nZZ99,{TZ}\n"


def _study(root: Path) -> Path:
    result = CliRunner().invoke(app, ["init", str(root)])
    assert result.exit_code == 0, result.output
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return root


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _weekly(study: Path, tmp: Path) -> pl.DataFrame:
    out = tmp / f"{study.name}-weekly.csv"
    _run("export", "weekly", "--study", str(study), "--out", str(out))
    return pl.read_csv(out).sort("participant_id", "week_start")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def _export(tmp_path: Path) -> Path:
    truth = worn_truth(datetime(2026, 3, 2), 14, TZ, hours=(6, 22))
    return write_takeout_json(truth, tmp_path / "takeout", TZ)


def test_filed_under_zz99_forgotten_and_filed_under_p01_gives_p01_the_clean_weeks(
    tmp_path: Path,
) -> None:
    export = _export(tmp_path)
    raw = _digest(export)
    clean = _study(tmp_path / "clean")
    _run("ingest", "--study", str(clean), "--participant", "P01", str(export))
    expected = _weekly(clean, tmp_path)
    assert expected.height >= 2 and expected["mvpa_minutes"].sum() > 0

    study = _study(tmp_path / "study")
    _run("ingest", "--study", str(study), "--participant", "ZZ99", str(export))
    wrong = _weekly(study, tmp_path)
    assert set(wrong["participant_id"]) == {"ZZ99"}
    assert wrong.drop("participant_id").equals(expected.drop("participant_id"))

    out = _run("forget", "--study", str(study), "--participant", "ZZ99")
    assert "the next run ingests them afresh (raw files untouched)" in out
    assert _weekly(study, tmp_path).height == 0  # ZZ99's weeks are gone at once
    assert_notes_state_matches_lake(study)  # and so are the hours the data notes read

    _run("ingest", "--study", str(study), "--participant", "P01", str(export))
    moved = _weekly(study, tmp_path)
    assert moved.equals(expected)
    assert_notes_state_matches_lake(study)

    # idempotent: running it again changes nothing; the raw files were never touched
    out = _run("ingest", "--study", str(study), "--participant", "P01", str(export))
    assert "0 new file(s)" in out
    assert _weekly(study, tmp_path).equals(expected)
    assert _digest(export) == raw
    again = CliRunner().invoke(app, ["forget", "--study", str(study), "--participant", "ZZ99"])
    assert again.exit_code == 2 and "has no files in the manifest" in again.output

    # history: ZZ99's rows are still in the lake, marked retired
    man = Lake(study / "store" / "lake").manifest()
    zz = man.filter(pl.col("participant_id") == "ZZ99")
    assert zz.height > 0 and set(zz["status"]) == {"retired"}
    assert set(man.filter(pl.col("participant_id") == "P01")["status"]) == {"ok"}


def test_forget_one_member_of_an_archive_reads_that_member_again(tmp_path: Path) -> None:
    export = _export(tmp_path)
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(export.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(export).as_posix())
    study = _study(tmp_path / "study")
    _run("ingest", "--study", str(study), "--participant", "P01", str(archive))
    before = _weekly(study, tmp_path)
    lake = Lake(study / "store" / "lake")
    minutes = lake.scan("minutes").collect().height
    member = lake.manifest().filter(pl.col("rows_minutes") > 0).row(0, named=True)

    out = _run("forget", "--study", str(study), "--file", member["file_id"][:12])
    assert "retired 2 manifest row(s) of 2 file(s) of P01" in out  # the member and its archive
    assert Lake(study / "store" / "lake").scan("minutes").collect().height < minutes

    out = _run("ingest", "--study", str(study), "--participant", "P01", str(archive))
    assert "2 new file(s)" in out  # the archive and that member; the others are known
    assert Lake(study / "store" / "lake").scan("minutes").collect().height == minutes
    assert _weekly(study, tmp_path).equals(before)


def test_forget_needs_exactly_one_target_and_a_long_enough_id(tmp_path: Path) -> None:
    study = _study(tmp_path / "study")
    both = CliRunner().invoke(
        app, ["forget", "--study", str(study), "--file", "abcdef12", "--participant", "P01"]
    )
    assert both.exit_code == 2 and "exactly one of --file" in both.output
    short = CliRunner().invoke(app, ["forget", "--study", str(study), "--file", "abc"])
    assert short.exit_code == 2 and "too short" in short.output


def test_reprocess_reads_a_refused_archive_again_on_demand(tmp_path: Path) -> None:
    export = _export(tmp_path)
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for f in sorted(export.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(export).as_posix())
    study = _study(tmp_path / "study")
    toml = study / "study.toml"
    original = toml.read_text()
    toml.write_text(
        original.replace(
            "archive_ratio_floor_bytes = 67108864", "archive_ratio_floor_bytes = 0"
        ).replace("archive_max_expansion_ratio = 200.0", "archive_max_expansion_ratio = 1.5")
    )
    _run("ingest", "--study", str(study), "--participant", "P01", str(archive))
    assert _weekly(study, tmp_path).height == 0  # nothing read: no weeks

    bad = CliRunner().invoke(app, ["reprocess", "--study", str(study), "--status", "ok"])
    assert bad.exit_code == 2 and "--status takes" in bad.output
    out = _run("reprocess", "--study", str(study), "--status", "partial")
    assert "0 file(s) read again" in out  # nothing partial: nothing read

    toml.write_text(original)  # the limit back to its default
    out = _run(
        "reprocess", "--study", str(study), "--participant", "P01", "--status", "quarantined"
    )
    assert "1 file(s) read again" in out
    clean = _study(tmp_path / "clean")
    _run("ingest", "--study", str(clean), "--participant", "P01", str(archive))
    assert _weekly(study, tmp_path).equals(_weekly(clean, tmp_path))
    assert "0 file(s) read again" in _run("reprocess", "--study", str(study))


def test_participant_from_id_needs_no_participant(tmp_path: Path) -> None:
    """Issue 12 item 4: a Fitabase export read with --participant-from-id alone; its own Ids are the participants."""
    from tests.foundation.test_participant_ids import _fitabase_csv

    study = tmp_path / "study"
    assert CliRunner().invoke(app, ["init", str(study)]).exit_code == 0
    (study / "roster.csv").write_text(f"participant_id,timezone\nF1,{TZ}\nF2,{TZ}\n")
    export = _fitabase_csv(tmp_path / "export", ["F1", "F2"])
    missing = CliRunner().invoke(app, ["ingest", "--study", str(study), str(export)])
    assert missing.exit_code == 2 and "name the participant" in missing.output
    _run("ingest", "--study", str(study), "--participant-from-id", str(export))
    lake = Lake(study / "store" / "lake")
    assert set(lake.scan("minutes").collect()["participant_id"]) == {"F1", "F2"}
    assert "_from-id" not in set(lake.manifest()["participant_id"])


def test_forgotten_rows_survive_a_compaction_marked_and_the_weeks_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 2: retired rows are marked, not deleted, also once the lake is compacted."""
    from config import open_study
    from pipeline.jobs import COMPACT_ENV, derive

    export = _export(tmp_path)
    study = _study(tmp_path / "study")
    _run("ingest", "--study", str(study), "--participant", "P01", str(export))
    _run("ingest", "--study", str(study), "--participant", "ZZ99", str(export))
    lake = Lake(study / "store" / "lake")
    zz99 = lake.scan("minutes", ["ZZ99"]).collect()
    assert zz99.height > 0 and "bucket=" not in lake.committed_parts("minutes", ["ZZ99"])[0]

    monkeypatch.setenv(COMPACT_ENV, "1")  # the forget's publish compacts every bucket
    _run("forget", "--study", str(study), "--participant", "ZZ99")
    weekly = _weekly(study, tmp_path)
    assert set(weekly["participant_id"]) == {"P01"}

    lake = Lake(study / "store" / "lake")
    assert all("bucket=" in p for p in lake.committed_parts("minutes"))  # compacted
    assert lake.scan("minutes", ["ZZ99"]).collect().height == 0
    kept = lake.history("minutes", ["ZZ99"]).collect()
    assert kept["retired"].all() and kept.height == zz99.height
    assert kept.drop("retired").sort(zz99.columns).equals(zz99.sort(zz99.columns))
    assert lake.scan_retired("minutes", lake.retirements()).collect().height == zz99.height
    derive(open_study(study))  # a full recompute from the compacted lake
    assert _weekly(study, tmp_path).equals(weekly)


def test_forgetting_one_participant_of_a_shared_fitabase_export_reads_back_only_theirs(
    tmp_path: Path,
) -> None:
    """A Fitabase export holds many Ids: forget P02, and the next ingest gives P02 its rows back, P01's once."""
    from pipeline.demo.fitbit_files import write_fitabase

    truths = {
        fid: worn_truth(datetime(2026, 3, 2), 14, TZ, hours=hours, seed=seed)
        for fid, hours, seed in (("1001", (6, 22), 7), ("1002", (8, 20), 11))
    }
    export = write_fitabase(truths, tmp_path / "fitabase", dict.fromkeys(truths, TZ))
    roster = f"participant_id,timezone,fitabase_id\nP01,{TZ},1001\nP02,{TZ},1002\n"
    clean, study = _study(tmp_path / "clean"), _study(tmp_path / "study")
    for root in (clean, study):
        (root / "roster.csv").write_text(roster, encoding="utf-8")
        _run("ingest", "--study", str(root), "--participant", "P01", str(export))
    expected = _weekly(clean, tmp_path)
    assert set(expected["participant_id"]) == {"P01", "P02"}
    lake = Lake(clean / "store" / "lake")
    minutes = {p: lake.scan("minutes", [p]).collect().height for p in ("P01", "P02")}
    assert min(minutes.values()) > 0

    _run("forget", "--study", str(study), "--participant", "P02")
    assert set(_weekly(study, tmp_path)["participant_id"]) == {"P01"}

    out = _run("ingest", "--study", str(study), "--participant", "P01", str(export))
    assert "0 new file(s)" not in out
    lake = Lake(study / "store" / "lake")
    assert {p: lake.scan("minutes", [p]).collect().height for p in minutes} == minutes
    assert _weekly(study, tmp_path).equals(expected)
    live = lake.manifest().filter(pl.col("status") == "ok")
    assert live.group_by("participant_id", "file_id").len()["len"].max() == 1  # no row twice
    assert "0 new file(s)" in _run(
        "ingest", "--study", str(study), "--participant", "P01", str(export)
    )
