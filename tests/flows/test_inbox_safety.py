"""A nightly with links, loops and FIFOs in the inbox ends, names each refusal and lands the rest; SIGTERM ends a run promptly.

The nightly runs in its own process with a timeout, so a regression that
blocks on a FIFO fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.nightly import nightly_flow
from tests.flows.conftest import DemoCopy, export_columns, weekly_of
from tests.flows.test_nightly import NEW_DAY, write_new_fit_day

REPO = Path(__file__).resolve().parents[2]
RUN_NIGHTLY = (
    "import json, sys\n"
    "from flows.nightly import nightly_flow\n"
    "r = nightly_flow(sys.argv[1])\n"
    "print(json.dumps({'summary': r['summary'], 'files': r['files'], 'touched': r['touched']}))\n"
)

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
    pytest.mark.slow,  # runs Prefect flows
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)"),
]


def _env(api_url: str) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": api_url, "PYTHONPATH": str(REPO)}


def test_nightly_with_hostile_inbox_refuses_each_and_lands_the_rest(
    after_nightly: DemoCopy, prefect_api: str
) -> None:
    root = after_nightly.root
    inbox = root / "inbox"
    write_new_fit_day(root, "P02", NEW_DAY)
    (inbox / "P01" / "hosts.fit").symlink_to("/etc/hosts")
    (inbox / "P02x").symlink_to("/etc/ssl", target_is_directory=True)
    (inbox / "P03" / "loop").symlink_to(inbox / "P03" / "loop")
    os.mkfifo(inbox / "P04" / "pipe.json")
    done = subprocess.run(
        [sys.executable, "-c", RUN_NIGHTLY, str(root)],
        cwd=REPO,
        env=_env(prefect_api),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    summary = result["summary"]
    for name, why in [
        ("P01/hosts.fit", "symlink: refused"),
        ("P02x", "symlink: refused"),
        ("P03/loop", "symlink: refused"),
        ("P04/pipe.json", "FIFO (named pipe): refused"),
    ]:
        line = next(
            (ln for ln in summary.splitlines() if ln.startswith(f"| {inbox / name} |")), None
        )
        assert line is not None and why in line, (name, summary)
    assert result["touched"] == [{"participant_id": "P02", "week_start": NEW_DAY.isoformat()}]
    quarantine = root / "store" / "quarantine"
    hosts = Path("/etc/hosts").read_bytes() if Path("/etc/hosts").exists() else b"\0never"
    assert not [p for p in quarantine.rglob("*") if p.is_file() and p.read_bytes() == hosts]


def test_sigterm_ends_a_nightly_promptly_and_the_next_run_completes(
    demo: DemoCopy, prefect_api: str
) -> None:
    root = demo.root
    os.mkfifo(root / "inbox" / "P01" / "pipe.fit")  # once, a FIFO made SIGTERM wait for ever
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_NIGHTLY, str(root)],
        cwd=REPO,
        env=_env(prefect_api),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not (root / "store" / "lake" / "files").exists():
        assert proc.poll() is None, "the nightly ended before it wrote anything"
        assert time.monotonic() < deadline, "the nightly never started ingesting"
        time.sleep(0.05)
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the nightly was still running 30 s after SIGTERM") from None
    assert time.monotonic() - sent < 30
    assert proc.returncode != 0
    nightly_flow(str(root))
    assert export_columns(weekly_of(root)).equals(export_columns(demo.expected_weekly))
