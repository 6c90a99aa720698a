"""Flow commands on a path that is not a study end at once with 'irisin check''s one line, before Prefect starts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

COMMANDS = [["nightly"], ["backfill", "--all"], ["rescore"], ["serve"]]


def _irisin(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from irisin.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("bad", ["missing", "invalid-toml", "empty-folder"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_wrong_study_path_is_one_line_and_exit_2_before_prefect(
    tmp_path: Path, command: list[str], bad: str
) -> None:
    wrong = tmp_path / "not-a-study"
    if bad == "empty-folder":
        wrong.mkdir()
    if bad == "invalid-toml":
        wrong.mkdir()
        (wrong / "study.toml").write_text("[scoring\nthreshold = ")
    expected = _irisin("check", "--study", str(wrong))
    started = time.monotonic()
    got = _irisin(*command, "--study", str(wrong))
    elapsed = time.monotonic() - started
    assert got.returncode == 2 and expected.returncode == 2
    assert got.stderr == expected.stderr and got.stderr.count("\n") == 1, got.stderr
    if bad == "empty-folder":
        assert "not a study folder (no study.toml and no roster.csv)" in got.stderr
    assert "prefect" not in got.stderr.lower()
    assert not (wrong / ".prefect").exists()  # Prefect was never set up
    assert elapsed < 15, f"{command[0]} took {elapsed:.1f} s (target under 2 s on an idle machine)"
