"""Issue 12 item 4: files of an id not in roster.csv are held in the manifest, then scored once it is added.

``irisin ingest`` and ``irisin backfill`` record every held file in the
manifest (``kind=held, status=skipped``, reason "not in roster.csv"), score
nothing for it, and the first nightly after the id is added to the roster
reads the files by itself, giving the tables a clean run gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from config import init_study, open_study
from flows.backfill import backfill_flow
from flows.nightly import nightly_flow
from irisin.cli import app
from pipeline.jobs import lake_of
from tests.flows.conftest import export_columns, weekly_of

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows

HEADER = "participant_id,timezone,birth_year,resting_hr,max_hr,start_date,end_date,fitabase_id\n"


def _study(root: Path, rostered: tuple[str, ...]) -> Path:
    """A fresh study whose inbox holds two weeks of FIT days for P01 and P98; the roster lists ``rostered``."""
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days

    init_study(root)
    (root / "roster.csv").write_text(
        HEADER + "".join(f"{pid},Europe/Oslo,,,,,,\n" for pid in rostered)
    )
    for serial, pid in enumerate(("P01", "P98"), start=3_912_345_600):
        who = DemoParticipant(pid, "Europe/Oslo", 1980, 58, 182, "fit", 150)
        write_monitoring_days(
            truth_minutes(who, 7, weeks=2), root / "inbox" / pid, device_serial=serial
        )
    return root


def _add_to_roster(root: Path, pid: str) -> None:
    with (root / "roster.csv").open("a") as roster:
        roster.write(f"{pid},Europe/Oslo,,,,,,\n")


def _manifest(root: Path) -> pl.DataFrame:
    return lake_of(open_study(root)).manifest()


def _assert_held(root: Path, files: int) -> None:
    held = _manifest(root).filter(pl.col("participant_id") == "P98")
    assert held.height == files > 0
    assert set(held["kind"]) == {"held"} and set(held["status"]) == {"skipped"}
    assert all("'P98' not in roster.csv" in r for r in held["reason"])
    assert all(json.loads(s)["participant"]["in_roster"] is False for s in held["settings"])
    weekly = root / "store" / "derived" / "weekly.parquet"
    if weekly.exists():
        assert "P98" not in set(weekly_of(root)["participant_id"])


def _clean_weekly(tmp_path: Path) -> pl.DataFrame:
    clean = _study(tmp_path / "clean", ("P01", "P98"))
    nightly_flow(str(clean))
    return export_columns(weekly_of(clean))


def test_irisin_ingest_holds_an_unrostered_participant_and_the_next_nightly_scores_it(
    tmp_path: Path,
) -> None:
    root = _study(tmp_path / "study", ("P01",))
    files = len(list((root / "inbox" / "P98").iterdir()))

    result = CliRunner().invoke(
        app, ["ingest", "--study", str(root), "--participant", "P98", str(root / "inbox" / "P98")]
    )

    assert "'P98' not in roster.csv" in result.output, result.output
    _assert_held(root, files)
    typo = CliRunner().invoke(
        app, ["ingest", "--study", str(root), "--participant", "p01", str(root / "inbox" / "P01")]
    )
    assert "did you mean P01?" in typo.output, typo.output

    _add_to_roster(root, "P98")
    nightly_flow(str(root))

    p98 = _manifest(root).filter(pl.col("participant_id") == "P98")
    assert sorted(set(p98["status"])) == ["ok", "retired"]
    assert p98.filter(pl.col("status") == "ok").height == files
    weekly = export_columns(weekly_of(root))
    assert weekly.filter(pl.col("participant_id") == "P98")["mvpa_minutes"].sum() > 0
    assert weekly.equals(_clean_weekly(tmp_path))


def test_a_backfill_holds_an_unrostered_participant_and_the_next_nightly_scores_it(
    tmp_path: Path,
) -> None:
    root = _study(tmp_path / "study", ("P01",))
    files = len(list((root / "inbox" / "P98").iterdir()))

    backfill_flow(str(root), show_progress=False)

    _assert_held(root, files)
    assert "P01" in set(weekly_of(root)["participant_id"])

    _add_to_roster(root, "P98")
    nightly_flow(str(root))

    weekly = export_columns(weekly_of(root))
    assert weekly.filter(pl.col("participant_id") == "P98")["mvpa_minutes"].sum() > 0
    assert weekly.equals(_clean_weekly(tmp_path))


def test_a_nightly_holds_an_unrostered_participant_in_the_manifest_and_scores_it_once_added(
    tmp_path: Path,
) -> None:
    """The nightly lists held files in the manifest as ingest and backfill do (one row per file,
    reason "not in roster.csv"); a second nightly adds nothing; the first after the id is added
    reads and scores them, giving the tables of a clean run."""
    root = _study(tmp_path / "study", ("P01",))
    files = len(list((root / "inbox" / "P98").iterdir()))

    held = nightly_flow(str(root))

    _assert_held(root, files)
    attention = {r["participant_id"]: r["reason"] for r in held["attention"]}
    assert "'P98' not in roster.csv" in attention["P98"], attention
    manifest = _manifest(root)
    again = nightly_flow(str(root))
    assert again["files"]["new"] == 0
    assert (
        _manifest(root)
        .sort("file_id", "participant_id")
        .equals(manifest.sort("file_id", "participant_id"))
    )

    _add_to_roster(root, "P98")
    added = nightly_flow(str(root))

    assert added["files"]["new"] == files
    p98 = _manifest(root).filter(pl.col("participant_id") == "P98")
    assert sorted(set(p98["status"])) == ["ok", "retired"]
    assert p98.filter(pl.col("status") == "ok").height == files
    weekly = export_columns(weekly_of(root))
    assert weekly.filter(pl.col("participant_id") == "P98")["mvpa_minutes"].sum() > 0
    assert weekly.equals(_clean_weekly(tmp_path))
