"""``irisin ingest`` during a nightly: it waits for the study lock, and nothing is lost (issue 13 item 3, literally).

Once, each ingest ran ``Lake.recover`` without the lock and deleted the
nightly's in-flight parts: 900 minute rows gone for good. Now the tables
after a nightly with parallel ingests equal those of the same work done one
command after the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.nightly import nightly_flow
from tests.flows.conftest import DemoCopy, copy_study
from tests.flows.test_backfill import normalized
from tests.flows.test_nightly import NEW_DAY, write_new_fit_day

REPO = Path(__file__).resolve().parents[2]
IRISIN = Path(sys.executable).with_name("irisin")

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
    pytest.mark.slow,  # runs Prefect flows
    pytest.mark.skipif(
        not IRISIN.exists(), reason="the irisin command is not installed next to this python"
    ),
]


def _extra_files(demo_root: Path, folder: Path) -> list[tuple[str, Path]]:
    """New FIT days for three participants, outside the inbox (what a data engineer hands ``irisin ingest``)."""
    out = []
    for pid in ("P01", "P02", "P05"):
        path, _ = write_new_fit_day(demo_root, pid, NEW_DAY)
        target = folder / pid / path.name
        target.parent.mkdir(parents=True)
        path.rename(target)
        path.parent.rmdir()
        out.append((pid, target))
    return out


def _ingest(root: Path, pid: str, path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(IRISIN), "ingest", "--study", str(root), "--participant", pid, str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_nightly_with_parallel_ingests_equals_one_after_the_other(
    crash_template: DemoCopy, tmp_path: Path, prefect_api: str
) -> None:
    demo = DemoCopy(
        copy_study(crash_template.root, tmp_path / "demo"), crash_template.expected_weekly
    )
    files = _extra_files(demo.root, tmp_path / "handed-over")
    clean = copy_study(demo.root, tmp_path / "clean")
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PYTHONPATH": str(REPO)}

    # sequential reference: the nightly, then each ingest
    nightly_flow(str(clean))
    for pid, path in files:
        done = subprocess.run(
            [str(IRISIN), "ingest", "--study", str(clean), "--participant", pid, str(path)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr

    # concurrent: the ingests start while the nightly is writing the lake
    nightly = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from flows.nightly import nightly_flow; nightly_flow(sys.argv[1])",
            str(demo.root),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not (demo.root / "store" / "lake" / "files").exists():
        assert nightly.poll() is None, nightly.stderr.read()[-2000:]  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ingests = [_ingest(demo.root, pid, path, env) for pid, path in files]
    outputs = [p.communicate(timeout=600) for p in ingests]
    _, nightly_err = nightly.communicate(timeout=600)  # reads and closes the pipe
    assert nightly.returncode == 0, nightly_err[-2000:]
    for proc, (out, err) in zip(ingests, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "1 new file(s)" in out, out
    assert any("waiting for it to finish" in err for _, err in outputs), (
        "no ingest had to wait for the nightly"
    )

    got, want = normalized(demo.root), normalized(clean)
    for name in want:
        assert got[name].equals(want[name]), name
