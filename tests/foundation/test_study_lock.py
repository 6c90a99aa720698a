"""The study lock belongs to the library: ingest waits or refuses, recovery needs it, the warehouse shows committed parts only."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from config import init_study, open_study
from irisin.cli import app
from irisin.jobs import recover_store
from irisin.lock import StudyBusyError, holds_lock, study_lock
from store.derived import DerivedStore
from store.lake import Lake
from store.warehouse import refresh_warehouse
from tests.foundation.test_participant_ids import _batch, _fitabase_csv

runner = CliRunner()


def test_lock_refuses_or_waits_naming_the_holder(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s")
    release = threading.Event()
    taken = threading.Event()

    def hold() -> None:
        with study_lock(study, "irisin nightly"):
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(5)
    busy = pytest.raises(StudyBusyError, match=r"another irisin run \(pid \d+, irisin nightly\)")
    with busy, study_lock(study, "irisin ingest"):
        pass
    said: list[str] = []
    threading.Timer(0.6, release.set).start()
    started = time.monotonic()
    with study_lock(study, "irisin ingest", wait_seconds=20, on_wait=said.append):
        assert holds_lock(study)
        waited = time.monotonic() - started
    holder.join()
    assert 0.5 < waited < 10
    assert len(said) == 1 and said[0].endswith("waiting for it to finish")
    assert not holds_lock(study)


def test_recovery_needs_the_lock(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s")
    with pytest.raises(RuntimeError, match="only under the study lock"):
        recover_store(study)
    with study_lock(study):
        assert recover_store(study) == []


def test_cli_ingest_refuses_after_waiting_while_another_run_holds_the_study(tmp_path: Path) -> None:
    study_dir = tmp_path / "s"
    study = init_study(study_dir)
    export = _fitabase_csv(tmp_path / "export", ["1503960366"])
    with study_lock(open_study(study_dir), "irisin nightly"):
        result = runner.invoke(
            app,
            [
                "ingest",
                "--study",
                str(study_dir),
                "-p",
                "P01",
                "--participant-from-id",
                "--wait",
                "0.2",
                str(export),
            ],
        )
    assert result.exit_code == 75
    assert "another irisin run" in result.output and "irisin nightly" in result.output
    assert not (study.paths.store / "lake" / "files").exists()
    ok = runner.invoke(
        app,
        ["ingest", "--study", str(study_dir), "-p", "P01", "--participant-from-id", str(export)],
    )
    assert ok.exit_code == 0, ok.output


def test_warehouse_never_shows_uncommitted_parts(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.write_batch(_batch("P01"))
    # a live run has written P02's data part but not its manifest part yet
    in_flight = (
        tmp_path / "lake" / "minutes" / "participant_id=P02" / "0123456789abcdef01234567.parquet"
    )
    in_flight.parent.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(lake.scan("minutes").collect().to_arrow().to_pylist()), in_flight
    )
    target = refresh_warehouse(lake, DerivedStore(tmp_path / "derived"), tmp_path / "w.duckdb")
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert con.execute("select count(*) from minutes").fetchone() == (1,)
        assert con.execute("select distinct participant_id from minutes").fetchall() == [("P01",)]
        assert "filename" not in [d[0] for d in con.execute("select * from minutes").description]
    finally:
        con.close()


def test_a_committed_part_deleted_by_hand_is_named(tmp_path: Path) -> None:
    """A data part gone (or truncated to nothing) is found by the run's recovery and named, not passed over."""
    import polars as pl

    from ingest.pipeline import IngestReport
    from irisin.jobs import damage_outcomes
    from irisin.summary import summary_markdown

    study = init_study(tmp_path / "s")
    lake = Lake(study.paths.store / "lake")
    lake.write_batch(_batch("P01"))
    lake.write_batch(_batch("P02"))
    (gone,) = (study.paths.store / "lake" / "minutes" / "participant_id=P01").glob("*.parquet")
    gone.unlink()
    (cut,) = (study.paths.store / "lake" / "minutes" / "participant_id=P02").glob("*.parquet")
    cut.write_bytes(b"PAR1")
    with study_lock(study):
        recover_store(study, lake)
    assert lake.damaged == [
        (str(gone), "missing (its manifest says 1 minutes rows)"),
        (str(cut), "unreadable: 4 bytes, too short to be a Parquet file"),
    ]
    outcomes = damage_outcomes(study, lake)
    assert [(o.participant_id, o.status) for o in outcomes] == [
        ("P01", "failed"),
        ("P02", "failed"),
    ]
    assert outcomes[0].path == f"store/lake/minutes/participant_id=P01/{gone.name}"
    text = summary_markdown(
        "t", IngestReport(outcomes), pl.DataFrame(), pl.DataFrame(), study.config
    )
    assert (
        f"| store/lake/minutes/participant_id=P01/{gone.name} | failed | committed lake part missing"
        in text
    )
    # an intact lake reports nothing
    fresh = Lake(tmp_path / "other")
    fresh.write_batch(_batch("P03"))
    fresh.recover()
    assert fresh.damaged == []
