"""Retiring lake rows: marked, never deleted; scans, the manifest and the warehouse leave them out."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from config import Study, init_study, open_study
from ingest.pipeline import Ingestor
from store.derived import DerivedStore
from store.lake import Lake
from store.warehouse import connect_read_only, refresh_warehouse
from tests.garmin.fixtures import build_garmin_export


@pytest.fixture
def study(tmp_path: Path) -> Study:
    s = init_study(tmp_path / "study")
    (s.root / "roster.csv").write_text("participant_id,timezone\nP1,Europe/Oslo\nP2,Europe/Oslo\n")
    return open_study(s.root)


def _parts(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet"))


def test_retired_rows_leave_every_read_but_stay_on_disk(study: Study, tmp_path: Path) -> None:
    export = build_garmin_export(tmp_path)
    Ingestor(study).ingest("P1", [export])
    lake = Lake(study.paths.store / "lake")
    before = lake.scan("daily_totals").collect()
    assert before.height > 0
    on_disk = _parts(study.paths.store / "lake")
    man = lake.manifest()
    rows = man.filter(pl.col("rows_daily_totals") > 0).select(
        "participant_id", "batch_id", "file_id"
    )
    assert lake.retire(rows, "test") == rows.height
    assert lake.retire(rows, "test") == 0  # idempotent: nothing new to retire

    fresh = Lake(study.paths.store / "lake")
    assert fresh.scan("daily_totals").collect().height == 0
    statuses = fresh.manifest().filter(pl.col("file_id").is_in(rows["file_id"].to_list()))
    assert set(statuses["status"]) == {"retired"}
    assert not set(rows["file_id"]) & fresh.known_file_ids()
    # history: every part written before is still there, plus the retirement part
    after = _parts(study.paths.store / "lake")
    assert set(on_disk) <= set(after)
    assert len([p for p in after if "/retired/" in p.as_posix()]) == 1

    target = study.paths.store / "w.duckdb"
    refresh_warehouse(fresh, DerivedStore(study.paths.store / "derived"), target)
    con = connect_read_only(target)
    try:
        assert con.execute("select count(*) from daily_totals").fetchone() == (0,)
        retired_rows = con.execute("select count(*) from files where status = 'retired'")
        assert retired_rows.fetchone() == (rows.height,)
    finally:
        con.close()


def test_a_retired_file_ingested_again_counts_once(study: Study, tmp_path: Path) -> None:
    """Same bytes, same participant, after a retirement: a new batch, its rows count, the old stay out."""
    export = build_garmin_export(tmp_path)
    Ingestor(study).ingest("P1", [export])
    lake = Lake(study.paths.store / "lake")
    before = sorted(lake.scan("daily_totals").collect().rows())
    man = lake.manifest()
    lake.retire(man.select("participant_id", "batch_id", "file_id"), "test")

    again = Ingestor(study).ingest("P1", [export])
    assert again.new_files == man.height
    fresh = Lake(study.paths.store / "lake")
    assert sorted(fresh.scan("daily_totals").collect().rows()) == before
    live = fresh.manifest().filter(pl.col("status") != "retired")
    assert live.height == man.height
    assert set(live["batch_id"]).isdisjoint(set(man["batch_id"]))

    target = study.paths.store / "w.duckdb"
    refresh_warehouse(fresh, DerivedStore(study.paths.store / "derived"), target)
    con = connect_read_only(target)
    try:
        assert con.execute("select count(*) from daily_totals").fetchone() == (len(before),)
    finally:
        con.close()


def test_retirements_hold_across_compaction(study: Study, tmp_path: Path) -> None:
    """Retire after a compaction, ingest again, compact again: each row counts once, the warehouse agrees."""
    export = build_garmin_export(tmp_path)
    Ingestor(study).ingest("P1", [export])
    lake = Lake(study.paths.store / "lake")
    before = sorted(lake.scan("daily_totals").collect().rows())
    assert lake.compact(threshold=1).batches == 1

    lake = Lake(study.paths.store / "lake")
    man = lake.manifest()
    lake.retire(man.select("participant_id", "batch_id", "file_id"), "test")
    lake = Lake(study.paths.store / "lake")
    assert lake.scan("daily_totals").collect().height == 0
    assert set(lake.manifest()["status"]) == {"retired"}

    Ingestor(study).ingest("P1", [export])
    lake = Lake(study.paths.store / "lake")
    assert sorted(lake.scan("daily_totals").collect().rows()) == before
    lake.compact(threshold=1)
    lake = Lake(study.paths.store / "lake")
    assert sorted(lake.scan("daily_totals").collect().rows()) == before
    live = lake.manifest().filter(pl.col("status") != "retired")
    assert live.height == man.height

    target = study.paths.store / "w.duckdb"
    refresh_warehouse(lake, DerivedStore(study.paths.store / "derived"), target)
    con = connect_read_only(target)
    try:
        assert con.execute("select count(*) from daily_totals").fetchone() == (len(before),)
        assert con.execute("select count(*) from files where status = 'retired'").fetchone() == (
            man.height,
        )
    finally:
        con.close()
