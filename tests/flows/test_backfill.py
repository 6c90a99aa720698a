"""The backfill flow: source folders, date scope, checkpoints, and crash safety under SIGKILL."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from config import init_study
from flows.backfill import HOLD_ENV, backfill_flow
from flows.nightly import nightly_flow
from tests.flows.conftest import DemoCopy, copy_study, export_columns, warehouse_tables, weekly_of

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows


def configure(root: Path, *, batch: int, concurrency: int) -> Path:
    """Set the backfill batch size and concurrency in the study's study.toml."""
    toml = root / "study.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace(
        "backfill_batch_participants = 25", f"backfill_batch_participants = {batch}", 1
    )
    text = text.replace("max_concurrent_files = 4", f"max_concurrent_files = {concurrency}", 1)
    assert (
        f"backfill_batch_participants = {batch}" in text
        and f"max_concurrent_files = {concurrency}" in text
    )
    toml.write_text(text, encoding="utf-8")
    return root


# -- flows ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_backfill_from_a_source_folder_equals_the_truth(demo: DemoCopy, tmp_path: Path) -> None:
    study = init_study(tmp_path / "fresh")
    shutil.copy(demo.root / "study.toml", study.paths.study_toml)
    shutil.copy(demo.root / "roster.csv", study.paths.roster_csv)
    configure(study.root, batch=5, concurrency=2)

    result = backfill_flow(
        str(study.root), source_dir=str(demo.root / "inbox"), show_progress=False
    )

    assert result["batches"] == 3 and result["batches_failed"] == []
    on_disk = sum(1 for p in (demo.root / "inbox").rglob("*") if p.is_file())
    assert result["files"]["seen"] == result["files"]["on_disk"] == on_disk
    assert result["files"]["archive_members"] > 0  # counted apart from the files on disk
    # per participant and export: the Takeout archive handed over for P05, every member read
    takeout = next((demo.root / "inbox" / "P05").glob("takeout-*.zip"))
    assert any(
        line.startswith(f"P05 {takeout}: ") and "new file(s) read" in line
        for line in result["per_export"]
    ), result["per_export"]
    assert "**Per export**" in result["summary"]
    assert export_columns(weekly_of(study.root)).equals(export_columns(demo.expected_weekly))
    assert not any((study.root / "inbox").iterdir()), (
        "the source folder is read, the inbox untouched"
    )


def test_since_and_until_limit_the_recomputed_weeks(after_nightly: DemoCopy) -> None:
    before = weekly_of(after_nightly.root)

    result = backfill_flow(
        str(after_nightly.root),
        participants=["P01"],
        since=date(2026, 3, 18),
        until=date(2026, 3, 29),
        show_progress=False,
    )

    assert result["recomputed_weeks"] == [
        {"participant_id": "P01", "week_start": "2026-03-16"},
        {"participant_id": "P01", "week_start": "2026-03-23"},
    ]
    assert result["files"]["new"] == 0
    assert weekly_of(after_nightly.root).equals(before)


# -- crash safety ------------------------------------------------------------------


def start_backfill(root: Path, api_url: str, hold: str | None) -> subprocess.Popen[bytes]:
    """Run ``python -m flows.backfill`` on ``root`` in its own process against the session's Prefect API."""
    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "PYTHONPATH": str(REPO),
        HOLD_ENV: hold or "",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flows.backfill", "--study", str(root)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_until(condition: object, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(
                f"backfill exited ({proc.returncode}) early: {proc.stderr.read().decode()[-2000:]}"
            )  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("backfill did not reach the kill point in time")
        time.sleep(0.05)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if proc.stderr is not None:  # warnings are errors: an unclosed pipe is a ResourceWarning
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def normalized(root: Path) -> dict[str, pl.DataFrame]:
    """Warehouse tables with the study folder's own path cut out of file paths (copies live in different folders)."""
    tables = warehouse_tables(root)
    prefix = str(root.resolve())
    files = tables["files"].with_columns(
        pl.col("path").str.replace(prefix, "<study>", literal=True)
    )
    tables["files"] = files.sort(files.columns)
    return tables


KILL_POINTS: dict[str, int] = {
    "participant-P02": 0,  # in the middle of the first batch: P01 and P02 committed, P05 not yet
    "batch-1": 1,  # between the first and second batch
    "derived": 2,  # every batch done, derived tables written, warehouse not refreshed
    "published": 2,  # warehouse refreshed, run record and checkpoint not finished
}
"""Where the backfill process is killed, and how many batches the resumed run should skip."""
CRASH_BATCH = 3
"""Participants per batch in the crash studies: the five of ``crash_template`` make two
batches, P01, P02, P05 then P08, P10."""


def assert_cache_holds_inbox_fit_files(root: Path) -> None:
    """A backfill leaves the ids of the files it read in the hash cache: the next nightly hashes none again."""
    entries = json.loads((root / "store" / "fingerprints.json").read_text())
    fits = sorted((root / "inbox").rglob("*.fit"))
    assert len(fits) > 50
    for f in fits:
        size, mtime, fid = entries[os.path.abspath(f)]
        assert (size, mtime) == (f.stat().st_size, f.stat().st_mtime_ns), f
        assert fid == hashlib.sha256(f.read_bytes()).hexdigest(), f


@pytest.fixture(scope="module")
def clean_backfill(
    crash_template: DemoCopy, tmp_path_factory: pytest.TempPathFactory, prefect_api: str
) -> dict[str, pl.DataFrame]:
    """The warehouse of one uninterrupted backfill of the crash study: what every resumed run must equal."""
    root = tmp_path_factory.mktemp("clean-backfill") / "demo"
    clean = configure(copy_study(crash_template.root, root), batch=CRASH_BATCH, concurrency=1)
    result = backfill_flow(str(clean), show_progress=False)
    assert result["batches"] == 2
    assert_cache_holds_inbox_fit_files(clean)
    expected = normalized(clean)
    assert export_columns(expected["weekly"]).equals(export_columns(crash_template.expected_weekly))
    return expected


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_backfill_resumes_to_the_same_warehouse(
    point: str,
    crash_template: DemoCopy,
    clean_backfill: dict[str, pl.DataFrame],
    tmp_path: Path,
    prefect_api: str,
) -> None:
    root = configure(
        copy_study(crash_template.root, tmp_path / point), batch=CRASH_BATCH, concurrency=1
    )
    proc = start_backfill(root, prefect_api, hold=point)
    wait_until(lambda: any(root.glob(f"runs/backfill-*/held-at-{point}")), proc)
    kill(proc)

    resumed = backfill_flow(str(root), show_progress=False)

    assert resumed["batches_resumed"] == KILL_POINTS[point]
    got = normalized(root)
    for name, table in clean_backfill.items():
        assert got[name].equals(table), f"killed at {point}: table {name} differs from a clean run"


@pytest.mark.slow
def test_a_backfill_killed_while_writing_the_lake_resumes_to_the_same_warehouse(
    crash_template: DemoCopy,
    clean_backfill: dict[str, pl.DataFrame],
    tmp_path: Path,
    prefect_api: str,
) -> None:
    """A kill at whatever moment the first lake parts appear (possibly between a data part and its
    manifest), with two files read at once; the clean run read one at a time, and the
    warehouse must not depend on it."""
    root = configure(
        copy_study(crash_template.root, tmp_path / "killed"), batch=CRASH_BATCH, concurrency=2
    )
    proc = start_backfill(root, prefect_api, hold=None)
    wait_until(lambda: any((root / "store" / "lake").rglob("*.parquet")), proc)
    kill(proc)

    backfill_flow(str(root), show_progress=False)

    got = normalized(root)
    for name, table in clean_backfill.items():
        assert got[name].equals(table), f"table {name} differs from a clean run"


@pytest.mark.slow
def test_sigterm_ends_a_backfill_promptly_and_the_next_run_completes(
    crash_template: DemoCopy, tmp_path: Path, prefect_api: str
) -> None:
    """SIGTERM while the lake is being written: the run ends within 30 s, what it committed is whole, the next run finishes."""
    from config import open_study
    from pipeline.jobs import lake_of
    from store.verify import lake_damage

    root = configure(
        copy_study(crash_template.root, tmp_path / "stopped"), batch=CRASH_BATCH, concurrency=2
    )
    proc = start_backfill(root, prefect_api, hold=None)
    wait_until(lambda: any((root / "store" / "lake").rglob("*.parquet")), proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the backfill was still running 30 s after SIGTERM") from None
    finally:
        if proc.stderr is not None:
            proc.stderr.close()
    assert time.monotonic() - sent < 30
    assert proc.returncode != 0  # stopped, not finished

    assert lake_damage(lake_of(open_study(root))) == []  # every committed part reads whole
    backfill_flow(str(root), show_progress=False)
    assert export_columns(weekly_of(root)).equals(export_columns(crash_template.expected_weekly))


def test_the_demo_the_nightly_and_a_backfill_count_the_same_files(
    nightly_template: tuple[DemoCopy, dict[str, Any]], after_nightly: DemoCopy, tmp_path: Path
) -> None:
    """``irisin demo`` says N raw files; the first nightly and a later backfill (all known) say N too."""
    from typer.testing import CliRunner

    from irisin.cli import app

    out = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "again")])
    assert out.exit_code == 0, out.output
    match = re.search(r"(\d+) raw files on disk, (\d+) archive members", out.output)
    assert match, out.output
    demo_count, demo_members = int(match.group(1)), int(match.group(2))
    _, nightly = nightly_template

    backfill = backfill_flow(str(after_nightly.root), show_progress=False)
    again = nightly_flow(str(after_nightly.root))

    assert demo_members > 0
    for run in (nightly, backfill, again):  # archive members too, read or already known
        assert (run["files"]["seen"], run["files"]["archive_members"]) == (demo_count, demo_members)
    assert f"{demo_members} archive members (0 new)" in again["summary"]

    assert demo_count > 300
    assert nightly["files"]["seen"] == demo_count
    assert backfill["files"]["seen"] == demo_count, "a backfill of known files still sees them"
    assert backfill["files"]["new"] == 0
    assert f"seen: {demo_count} files on disk (0 new)" in backfill["summary"]
    assert f"seen: {demo_count} files on disk ({demo_count} new)" in nightly["summary"]
