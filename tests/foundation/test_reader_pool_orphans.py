"""A run killed outright takes its reader processes with it: no pool lives on as orphans.

Before, every SIGKILLed nightly or backfill (the OOM killer, a reboot script)
left its fork server and idle FIT reader workers running for ever: one
adversarial session found 104 of them holding about 9 GB.
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

ROOT = Path(__file__).resolve().parents[2]

OWNER = """
import json, multiprocessing, os, sys, time
from ingest.parallel import ReaderPool

if __name__ == "__main__":
    pool = ReaderPool(workers=2)
    executor = pool._pool()
    workers = sorted({executor.submit(os.getpid).result() for _ in range(8)})
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    print(json.dumps({"workers": workers, "server": server}), flush=True)
    time.sleep(600)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped yet counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see processes")
def test_sigkilled_owner_leaves_no_reader_processes(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER, encoding="utf-8")
    owner = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        pids = [*started["workers"], started["server"]]
        assert len(started["workers"]) >= 1 and all(_running(p) for p in pids)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        if owner.stdout is not None:
            owner.stdout.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.2)
    assert [p for p in pids if _running(p)] == [], "reader processes outlived their run"
