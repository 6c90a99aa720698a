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
from pipeline.jobs import recover_store
from pipeline.lock import StudyBusyError, holds_lock, study_lock
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
    from pipeline.jobs import damage_outcomes
    from pipeline.summary import summary_markdown

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


def _study_without_weekly(tmp_path: Path) -> tuple[Path, Path]:
    """A study with one participant's minutes in the lake and no derived weekly table yet."""
    study_dir = tmp_path / "s"
    init_study(study_dir)
    export = _fitabase_csv(tmp_path / "export1", ["1503960366"])
    ok = runner.invoke(
        app,
        ["ingest", "--study", str(study_dir), "-p", "P01", "--participant-from-id", str(export)],
    )
    assert ok.exit_code == 0, ok.output
    weekly = DerivedStore(study_dir / "store" / "derived").path("weekly")
    weekly.unlink()
    return study_dir, weekly


def test_export_derives_only_under_the_lock_and_refuses_after_waiting(tmp_path: Path) -> None:
    study_dir, weekly = _study_without_weekly(tmp_path)
    out = tmp_path / "weekly.csv"
    args = ["export", "weekly", "--study", str(study_dir), "--out", str(out)]
    with study_lock(open_study(study_dir), "irisin nightly"):
        busy = runner.invoke(app, [*args, "--wait", "0.2"])
    assert busy.exit_code == 75, busy.output
    assert "another irisin run" in busy.output and "irisin nightly" in busy.output
    assert not weekly.exists() and not out.exists()
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert weekly.exists()
    assert "1503960366" in out.read_text()


def test_export_waiting_for_a_nightly_loses_none_of_its_rows(tmp_path: Path) -> None:
    """While a nightly holds the study, export waits instead of deriving from the lake as it was.

    Deriving without the lock, export's older weekly table could land after
    the nightly's and the derive record would still say the nightly's batch
    was included: the new participant's weeks would be gone until a rescore.
    """
    import polars as pl

    from ingest.pipeline import Ingestor
    from pipeline.jobs import derive

    study_dir, weekly = _study_without_weekly(tmp_path)
    study = open_study(study_dir)
    out = tmp_path / "weekly.csv"
    second = _fitabase_csv(tmp_path / "export2", ["2022484408"])
    results: list[object] = []
    with study_lock(study, "irisin nightly"):
        exporter = threading.Thread(
            target=lambda: results.append(
                runner.invoke(
                    app, ["export", "weekly", "--study", str(study_dir), "--out", str(out)]
                )
            )
        )
        exporter.start()
        time.sleep(1.0)
        assert not weekly.exists(), "export derived while another run held the study"
        # the "nightly": a new participant's batch, then its derive
        Ingestor(study, participant_from_id=True).ingest("P02", [second])
        derive(study)
    exporter.join(30)
    (result,) = results
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "waiting for it to finish" in result.output  # type: ignore[attr-defined]
    exported = pl.read_csv(out, schema_overrides={"participant_id": pl.String})
    assert sorted(set(exported["participant_id"].to_list())) == ["1503960366", "2022484408"]
    stored = DerivedStore(study_dir / "store" / "derived").read("weekly")
    assert stored is not None
    assert exported.height == stored.height
