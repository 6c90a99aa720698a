"""Issue 12 acceptance: after fixing what was handed over wrongly, re-running gives a clean run's tables.

One study meets three mistakes a coordinator makes and mends with the
commands irisin gives: a participant's Takeout dropped under the wrong id
(``irisin forget``, move the folder), files of an id not yet in roster.csv
(add the id) and an archive refused by a limit set too low (raise it). The
next nightly must leave every warehouse table (and the live manifest) as a
clean run on the corrected input leaves it.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from config import init_study, open_study
from flows.nightly import nightly_flow
from irisin.cli import app
from pipeline.jobs import lake_of
from tests.flows.conftest import WAREHOUSE_COMPARED, warehouse_tables

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows

TZ = "Europe/Oslo"
LOW_LIMIT = ("archive_ratio_floor_bytes = 67108864", "archive_ratio_floor_bytes = 0")
LOW_RATIO = ("archive_max_expansion_ratio = 200.0", "archive_max_expansion_ratio = 1.5")


def _roster(root: Path, ids: tuple[str, ...]) -> None:
    (root / "roster.csv").write_text(
        "participant_id,timezone\n" + "".join(f"{pid},{TZ}\n" for pid in ids)
    )


def _drop(root: Path, takeout_under: str) -> None:
    """P01's Takeout (under ``takeout_under``) and zipped run, P98's FIT days."""
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days
    from pipeline.demo.fitbit_files import write_takeout_json
    from tests.fitbit.helpers import worn_truth
    from tests.foundation.test_read_again import _tcx

    truth = worn_truth(datetime(2026, 3, 2), 14, TZ, hours=(6, 22))
    write_takeout_json(truth, root / "inbox" / takeout_under / "takeout", TZ)
    with zipfile.ZipFile(root / "inbox" / "P01" / "run.zip", "w", zipfile.ZIP_DEFLATED, 9) as zf:
        info = zipfile.ZipInfo("run.tcx", (2026, 3, 3, 8, 0, 0))  # the same bytes each time
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, _tcx())
    newcomer = DemoParticipant("P98", TZ, 1980, 58, 182, "fit", 150)
    write_monitoring_days(
        truth_minutes(newcomer, 7, weeks=2), root / "inbox" / "P98", device_serial=3_912_345_600
    )


def _live_manifest(root: Path) -> pl.DataFrame:
    man = lake_of(open_study(root)).manifest()
    return (
        man.filter(~pl.col("status").is_in(["retired", "superseded"]))
        .select(
            "participant_id",
            "file_id",
            "kind",
            "status",
            "rows_minutes",
            "rows_daily_totals",
            "rows_sessions",
        )
        .sort(pl.all())
    )


def test_mending_a_misfiled_export_the_roster_and_a_limit_gives_the_clean_tables(
    tmp_path: Path,
) -> None:
    clean = tmp_path / "clean"
    init_study(clean)
    _roster(clean, ("P01", "P98", "ZZ99"))
    (clean / "inbox" / "P01").mkdir(parents=True)
    _drop(clean, "P01")
    nightly_flow(str(clean))

    root = tmp_path / "study"
    init_study(root)
    _roster(root, ("P01", "ZZ99"))  # P98 not yet in the roster
    (root / "inbox" / "P01").mkdir(parents=True)
    _drop(root, "ZZ99")  # P01's Takeout dropped under ZZ99
    toml = root / "study.toml"
    default = toml.read_text()
    toml.write_text(default.replace(*LOW_LIMIT).replace(*LOW_RATIO))
    first = nightly_flow(str(root))
    assert first["files"]["quarantined"] == 1  # the run's archive, refused by the low limit
    assert "ZZ99" in set(warehouse_tables(root)["weekly"]["participant_id"])

    forgot = CliRunner().invoke(app, ["forget", "--study", str(root), "--participant", "ZZ99"])
    assert forgot.exit_code == 0, forgot.output
    shutil.move(root / "inbox" / "ZZ99" / "takeout", root / "inbox" / "P01" / "takeout")
    _roster(root, ("P01", "P98", "ZZ99"))
    toml.write_text(default)
    nightly_flow(str(root))

    mended, expected = warehouse_tables(root), warehouse_tables(clean)
    for name in WAREHOUSE_COMPARED:
        if name == "files":  # paths and history differ: compared live, below
            continue
        assert mended[name].equals(expected[name]), name
    assert mended["weekly"].filter(pl.col("participant_id") == "P01")["mvpa_minutes"].sum() > 0
    assert _live_manifest(root).equals(_live_manifest(clean))
    again = nightly_flow(str(root))
    assert again["files"]["new"] == 0 and warehouse_tables(root)["weekly"].equals(
        expected["weekly"]
    )
