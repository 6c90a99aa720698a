"""Every command the dashboard tells a coordinator to run is a real irisin command (no `irisin run`)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from irisin.cli import app

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
NAMED = re.compile(r"`irisin ([a-z][a-z-]*)")


def _commands() -> set[str]:
    return set(get_command(app).commands)  # type: ignore[attr-defined]


def test_each_command_the_dashboard_names_exists() -> None:
    named = {
        (path.name, name)
        for path in DASHBOARD.glob("*.py")
        for name in NAMED.findall(path.read_text(encoding="utf-8"))
    }
    assert {name for _, name in named} >= {
        "nightly",
        "dashboard",
        "check",
    }  # the ones the pages use today
    missing = sorted((file, name) for file, name in named if name not in _commands())
    assert missing == [], f"the dashboard names commands the CLI does not have: {missing}"


def test_the_check_catches_a_command_that_does_not_exist() -> None:
    assert NAMED.findall("run the pipeline (`irisin run`) first") == ["run"]
    assert "run" not in _commands() and "nightly" in _commands() and "digest" in _commands()
