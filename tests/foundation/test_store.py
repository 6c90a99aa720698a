"""The lake: idempotent ingest, replacement of changed files, quarantine, crash recovery."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from config import Study, init_study
from ingest.pipeline import Ingestor
from store.derived import DerivedStore
from store.lake import Lake
from store.warehouse import connect_read_only, refresh_warehouse
from tests.garmin.fixtures import build_garmin_export, uds_bytes, uds_day


@pytest.fixture
def study(tmp_path: Path) -> Study:
    s = init_study(tmp_path / "study")
    (s.root / "roster.csv").write_text("participant_id,timezone\nP1,Europe/Oslo\n")
    from config import open_study

    return open_study(s.root)


def _lake_rows(lake: Lake) -> dict[str, list[tuple]]:
    """Every committed row of every table, sorted (ingested_at excluded from nothing)."""
    out = {}
    for t in ("minutes", "daily_totals", "sessions", "profiles"):
        out[t] = sorted(lake.scan(t).collect().rows())
    out["files"] = sorted(lake.manifest().rows())
    return out


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_ingest_twice_changes_nothing(study: Study, tmp_path: Path) -> None:
    export = build_garmin_export(tmp_path, zip_slip=True)
    ing = Ingestor(study)
    first = ing.ingest("P1", [export])
    assert first.new_files > 0
    rows = _lake_rows(ing.lake)
    assert len(rows["daily_totals"]) > 0 and len(rows["sessions"]) > 0
    digest = _tree_digest(study.paths.store / "lake")
    refresh_warehouse(
        ing.lake, DerivedStore(study.paths.store / "derived"), study.paths.store / "w.duckdb"
    )
    con = connect_read_only(study.paths.store / "w.duckdb")
    wh_first = sorted(con.execute("select * from daily_totals").fetchall())
    con.close()

    second = Ingestor(study).ingest("P1", [export])
    assert second.new_files == 0
    assert _tree_digest(study.paths.store / "lake") == digest
    assert _lake_rows(ing.lake) == rows
    refresh_warehouse(
        ing.lake, DerivedStore(study.paths.store / "derived"), study.paths.store / "w.duckdb"
    )
    con = connect_read_only(study.paths.store / "w.duckdb")
    assert sorted(con.execute("select * from daily_totals").fetchall()) == wh_first
    con.close()


def test_manifest_accounts_for_every_member_and_quarantines(study: Study, tmp_path: Path) -> None:
    export = build_garmin_export(
        tmp_path, zip_slip=True, corrupt_nested=True, fit_files={"a.fit": b"not fit"}
    )
    Ingestor(study).ingest("P1", [export])
    man = Lake(study.paths.store / "lake").manifest()
    by_status = dict(man.group_by("status").len().rows())
    assert by_status["quarantined"] >= 2  # zip-slip member + corrupt nested zip
    slip = man.filter(pl.col("path").str.ends_with("escaped.json"))
    assert slip["reason"][0].endswith("escapes the extraction folder: refused")
    assert man.filter(pl.col("kind") == "zip").height >= 2  # the archive and its nested upload zip
    sidecars = list((study.paths.store / "quarantine").rglob("reason.json"))
    reasons = {json.loads(p.read_text())["reason"] for p in sidecars}
    assert any(r.startswith("corrupt zip archive") for r in reasons)
    # the original export is untouched
    assert export.exists()


def _day(date: str, moderate: int) -> dict:
    return uds_day(
        date,
        start_gmt=f"{date}T00:00:00.0",
        end_gmt=f"{date}T23:59:59.0",
        end_local=f"{date}T23:59:59.0",
        moderate=moderate,
        vigorous=5,
        steps=1000,
    )


def test_changed_file_replaces_its_earlier_version(study: Study, tmp_path: Path) -> None:
    folder = tmp_path / "exp" / "DI_CONNECT" / "DI-Connect-Aggregator"
    folder.mkdir(parents=True)
    f = folder / "UDSFile_2026-01-01_2026-04-01.json"
    f.write_bytes(uds_bytes([_day("2026-03-02", 10)]))
    ing = Ingestor(study)
    ing.ingest("P1", [tmp_path / "exp"])
    f.write_bytes(uds_bytes([_day("2026-03-02", 30), _day("2026-03-03", 1)]))
    Ingestor(study).ingest("P1", [tmp_path / "exp"])
    lake = Lake(study.paths.store / "lake")
    daily = lake.scan("daily_totals").collect().sort("local_date")
    assert daily["moderate_minutes"].to_list() == [30, 1]
    man = lake.manifest().filter(pl.col("path").str.ends_with(".json"))
    assert sorted(man["status"].to_list()) == ["ok", "superseded"]


def test_one_lake_object_through_a_run_keeps_its_manifest_index_current(
    study: Study, tmp_path: Path
) -> None:
    """As in a nightly: recover, then ingest with the same lake object; its one manifest read stays true."""
    folder = tmp_path / "exp" / "DI_CONNECT" / "DI-Connect-Aggregator"
    folder.mkdir(parents=True)
    f = folder / "UDSFile_2026-01-01_2026-04-01.json"
    f.write_bytes(uds_bytes([_day("2026-03-02", 10)]))
    Ingestor(study).ingest("P1", [tmp_path / "exp"])
    lake = Lake(study.paths.store / "lake")
    assert lake.recover() == []
    first_ids = lake.known_file_ids()
    f.write_bytes(uds_bytes([_day("2026-03-02", 30), _day("2026-03-03", 1)]))
    report = Ingestor(study, lake).ingest("P1", [tmp_path / "exp"])
    new_ids = {o.file_id for o in report.outcomes if o.new}
    assert new_ids and not new_ids & first_ids
    assert lake.known_file_ids() == first_ids | new_ids == Lake(lake.root).known_file_ids()
    assert lake.scan("daily_totals").collect().sort("local_date")["moderate_minutes"].to_list() == [
        30,
        1,
    ]
    assert report.batches and set(report.batches) == {
        ("P1", b)
        for b in lake.manifest()
        .filter(pl.col("file_id").is_in(sorted(new_ids)))["batch_id"]
        .to_list()
    }
    new_rows = lake.scan_batches("daily_totals", report.batches).collect()
    assert sorted(new_rows["moderate_minutes"].to_list()) == [1, 30]


def test_recover_removes_uncommitted_parts(study: Study, tmp_path: Path) -> None:
    export = build_garmin_export(tmp_path)
    Ingestor(study).ingest("P1", [export])
    lake = Lake(study.paths.store / "lake")
    before = _lake_rows(lake)
    # simulate a crash after a data part was written but before its manifest part
    part = next((study.paths.store / "lake" / "daily_totals").rglob("*.parquet"))
    orphan = part.with_name("deadbeef" * 3 + ".parquet")
    orphan.write_bytes(part.read_bytes())
    (part.parent / "x.parquet.123.tmp").write_bytes(b"half")
    assert _lake_rows(lake) == before  # uncommitted parts are invisible to readers
    removed = lake.recover()
    assert sorted(Path(p).name for p in removed) == sorted([orphan.name, "x.parquet.123.tmp"])
    assert not orphan.exists()
    assert _lake_rows(lake) == before


def test_duplicate_members_are_listed_once_read_once(study: Study, tmp_path: Path) -> None:
    from tests.garmin.fixtures import export_members, write_export_zip

    members = export_members()
    uds = next(k for k in members if "UDSFile" in k)
    members[uds.replace("UDSFile_", "copy/UDSFile_")] = members[uds]
    path = write_export_zip(tmp_path / "dup.zip", members)
    report = Ingestor(study).ingest("P1", [path])
    man = (
        Lake(study.paths.store / "lake").manifest().filter(pl.col("path").str.contains("UDSFile_"))
    )
    assert man.height == 2
    skipped = man.filter(pl.col("status") == "skipped")
    assert skipped["reason"].to_list() == [f"same bytes as {path}!/{uds}"]
    daily = Lake(study.paths.store / "lake").scan("daily_totals").collect()
    assert daily.height == daily.unique(["local_date"]).height  # read once
    assert report.new_files == len(members) + 1  # every member plus the archive itself


def test_a_loose_file_is_recorded_at_its_own_path(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "UDSFile_2026-03-01_2026-03-31.json"
    path.write_bytes(uds_bytes([_day("2026-03-02", 12)]))
    report = Ingestor(study).ingest("P1", [path])
    assert [o.path for o in report.outcomes] == [str(path)]
    assert Lake(study.paths.store / "lake").manifest()["path"].to_list() == [str(path)]
