"""SIGTERM ends ``irisin ingest`` promptly, leaves the store consistent, and the next run completes it (issue 13)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import polars as pl

from config import init_study
from pipeline.demo.fit_files import write_monitoring_days
from pipeline.stopping import EXIT_TERMINATED
from tests.fitbit.helpers import worn_truth

IRISIN = [sys.executable, "-c", "from irisin.cli import main; main()"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PREFECT_HOME": str(tmp_path / ".prefect"), "DO_NOT_TRACK": "1"}


def _roster(study: Path) -> None:
    (study / "roster.csv").write_text(
        "participant_id,timezone\nP01,Europe/Oslo\n", encoding="utf-8"
    )


def _minutes(study: Path) -> pl.DataFrame:
    return (
        pl.scan_parquet(study / "store" / "lake" / "minutes" / "**" / "*.parquet")
        .select("minute_utc", "steps")
        .collect()
        .sort("minute_utc")
    )


def test_sigterm_stops_ingest_promptly_and_the_next_run_completes_it(tmp_path: Path) -> None:
    fits = tmp_path / "garmin"
    truth = worn_truth(datetime(2026, 3, 2), 40, "Europe/Oslo", hours=(7, 21), seed=3)
    write_monitoring_days(truth, fits, device_serial=3_900_000_099)
    study = tmp_path / "s"
    init_study(study)
    _roster(study)  # files of an unrostered id are held, not read
    args = [*IRISIN, "ingest", "--study", str(study), "-p", "P01", str(fits)]
    run = subprocess.Popen(
        args, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lake = study / "store" / "lake"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:  # until the first batch lands
        if any(lake.glob("files/*/*.parquet")):
            break
        time.sleep(0.05)
    assert run.poll() is None, "ingest ended before it could be stopped; give it more files"
    run.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, err = run.communicate(timeout=30)
    took = time.monotonic() - sent
    assert run.returncode == EXIT_TERMINATED, err
    assert took < 5, f"SIGTERM took {took:.1f} s to end the run"
    assert "stopped by SIGTERM" in err and "next run" in err
    verify = subprocess.run(
        [*IRISIN, "verify", "--study", str(study)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert not (study / "runs" / ".lock").exists() or _lock_free(study)
    again = subprocess.run(args, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    # the store equals one uninterrupted run
    clean = tmp_path / "clean"
    init_study(clean)
    _roster(clean)
    once = subprocess.run(
        [*IRISIN, "ingest", "--study", str(clean), "-p", "P01", str(fits)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert once.returncode == 0, once.stderr
    assert _minutes(study).equals(_minutes(clean))
    assert _minutes(study).height > 40 * 600


def _lock_free(study: Path) -> bool:
    import fcntl

    with open(study / "runs" / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True
