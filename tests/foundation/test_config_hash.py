"""One hash for one config (issue 15 item 7).

run_info.json, the runs table, ``irisin check`` and the weekly rows all name
``config_hash`` and give it one value (study.toml and roster); the settings
alone are ``settings_hash``, named so wherever they appear.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import IngestReport
from irisin.cli import app
from pipeline.demo.fitbit_files import write_takeout_json
from pipeline.jobs import InboxItem, RunRecord, derive, derived_of, ingest_item
from tests.fitbit.helpers import worn_truth

TZ = "Europe/Oslo"


def _check(root: Path) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["check", "--study", str(root)])
    assert result.exit_code == 0, result.output
    config = re.search(r"config_hash (\w+)", result.output)
    settings = re.search(r"settings_hash (\w+)", result.output)
    assert config and settings, result.output
    return config.group(1), settings.group(1)


def test_run_info_check_runs_table_and_weekly_rows_name_one_config_hash(tmp_path: Path) -> None:
    root = tmp_path / "study"
    init_study(root)
    write_roster(pl.DataFrame({"participant_id": ["P01"], "timezone": [TZ]}), root / "roster.csv")
    export = write_takeout_json(
        worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(7, 21)),
        root / "inbox" / "P01" / "export",
        TZ,
    )
    study = open_study(root)
    ingest_item(study, InboxItem("P01", export, folder=True))
    weekly = derive(study, None).weekly
    info = json.loads(
        Path(RunRecord("nightly", study).finish(IngestReport(), "", "completed")).read_text()
    )

    config_hash, settings_hash = _check(root)
    assert weekly.height and weekly["config_hash"].unique().to_list() == [config_hash]
    assert info["config_hash"] == config_hash and info["settings_hash"] == settings_hash
    assert "inputs_hash" not in info  # no second name for the same value
    runs = derived_of(study).read("runs")
    assert runs is not None and runs["config_hash"].to_list() == [config_hash]
    assert config_hash != settings_hash

    # the roster changes results (time zones place the weeks), not the settings
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Asia/Tokyo"]}), root / "roster.csv"
    )
    new_config, new_settings = _check(root)
    assert new_config != config_hash and new_settings == settings_hash
