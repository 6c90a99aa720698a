"""The CLI: help with examples on every command, one-line errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from irisin.cli import app

runner = CliRunner()


def _commands() -> list[str]:
    return [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_with_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_init_check_and_one_line_errors(tmp_path: Path) -> None:
    study = tmp_path / "s"
    assert runner.invoke(app, ["init", str(study)]).exit_code == 0
    ok = runner.invoke(app, ["check", "--study", str(study)])
    assert ok.exit_code == 0 and ok.output.startswith("ok: 0 participants")

    (study / "study.toml").write_text("[wear]\nmin_valid_days_per_week = 9\n")
    bad = runner.invoke(app, ["check", "--study", str(study)])
    assert bad.exit_code == 2
    assert bad.output.strip() == (
        f"error: {study / 'study.toml'}: [wear] min_valid_days_per_week = 9: Input should be less than or equal to 7"
    )
    assert "Traceback" not in bad.output


def test_missing_study_and_unknown_table(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["check", "--study", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "no such study folder" in missing.output
    runner.invoke(app, ["init", str(tmp_path / "s")])
    unknown = runner.invoke(
        app, ["export", "steps", "--study", str(tmp_path / "s"), "--out", str(tmp_path / "x.csv")]
    )
    assert unknown.exit_code == 2
    assert "unknown table 'steps'" in unknown.output


def test_ingest_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    runner.invoke(app, ["init", str(tmp_path / "s")])
    result = runner.invoke(
        app,
        [
            "ingest",
            "--study",
            str(tmp_path / "s"),
            "--participant",
            "P1",
            str(tmp_path / "none.fit"),
        ],
    )
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path / 'none.fit'}: no such file or folder"


def test_schema_lists_units() -> None:
    result = runner.invoke(app, ["schema", "minutes"])
    assert result.exit_code == 0
    line = next(
        row for row in result.output.splitlines() if row.strip().startswith("heart_rate_bpm")
    )
    assert "beats/min" in line and "mean heart rate over the minute" in line
