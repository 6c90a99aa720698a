"""A study.toml written before a source existed still reads that source, and `irisin check` says so."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from config.study import KNOWN_SOURCES, StudyConfig
from irisin.cli import app


def test_unlisted_sources_rank_after_the_listed_ones() -> None:
    old = StudyConfig.model_validate(
        {"intensity": {"source_precedence": ["fitbit_takeout", "fit_monitoring"]}}
    )
    assert old.intensity.source_precedence[:2] == ["fitbit_takeout", "fit_monitoring"]
    assert set(old.intensity.source_precedence) == set(KNOWN_SOURCES)
    assert len(old.intensity.source_precedence) == len(KNOWN_SOURCES)
    assert "apple_health" in old.intensity.unlisted_sources
    assert "fit_monitoring" not in old.intensity.unlisted_sources
    assert StudyConfig().intensity.unlisted_sources == ()


def test_check_names_the_unlisted_sources(tmp_path: Path) -> None:
    runner = CliRunner()
    study = tmp_path / "s"
    assert runner.invoke(app, ["init", str(study)]).exit_code == 0
    listed = [s for s in KNOWN_SOURCES if s not in ("apple_health", "activity_xml")]
    (study / "study.toml").write_text(
        f"[intensity]\nsource_precedence = {listed!r}\n".replace("'", '"')
    )
    got = runner.invoke(app, ["check", "--study", str(study)])
    assert got.exit_code == 0, got.output
    assert "does not list apple_health, activity_xml" in got.output
    full = runner.invoke(app, ["check", "--study", str(tmp_path / "s2")])
    assert runner.invoke(app, ["init", str(tmp_path / "s2")]).exit_code == 0
    full = runner.invoke(app, ["check", "--study", str(tmp_path / "s2")])
    assert "does not list" not in full.output
