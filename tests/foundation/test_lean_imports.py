"""The ingest path imports neither scipy nor pandas: ``irisin ingest`` run in a fresh process, then its modules.

pyarrow imports pandas on its first conversion of any Python value, only to
check for pandas objects; ``ingest.lean_imports`` answers that probe in the
command line process and in reader workers. scipy is never needed to ingest.
The subprocess really ingests (a day of monitoring FIT files, read on two
reader workers, and a file that is not FIT), and the test checks the rows it
wrote, so an ingest that read nothing cannot pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from config import open_study
from config.layout import default_study_toml
from pipeline.jobs import lake_of

PROBE = """
import atexit, json, sys
def report():
    found = [m for m in ("pandas", "scipy") if m in sys.modules]
    sys.stdout.write("\\nMODULES " + json.dumps(found) + "\\n")
atexit.register(report)
from irisin.cli import main
sys.argv = ["irisin", *sys.argv[1:]]
main()
"""


def _study(root: Path) -> Path:
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days

    root.mkdir()
    (root / "study.toml").write_text(default_study_toml(), encoding="utf-8")
    pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}).write_csv(
        root / "roster.csv"
    )
    truth = truth_minutes(
        DemoParticipant("P01", "Europe/Oslo", 1970, 60, 175, "fit", 40), seed=1, weeks=1
    )
    write_monitoring_days(truth, root / "drop", device_serial=7)
    (root / "drop" / "notes.fit").write_bytes(b"not a FIT file" * 20)
    return root


def test_irisin_ingest_imports_neither_pandas_nor_scipy(tmp_path: Path) -> None:
    study = _study(tmp_path / "study")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            "ingest",
            "--study",
            str(study),
            "-p",
            "P01",
            str(study / "drop"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "IRISIN_WORKERS": "2"},
    )
    assert run.returncode == 0, run.stderr
    line = [x for x in run.stdout.splitlines() if x.startswith("MODULES ")][-1]
    assert json.loads(line.removeprefix("MODULES ")) == []
    lake = lake_of(open_study(study))
    manifest = lake.manifest()
    assert manifest.filter(pl.col("status") == "ok").height >= 7
    assert (
        manifest.filter(pl.col("status") == "quarantined")["path"].str.ends_with("notes.fit").all()
    )
    assert lake.scan("minutes").select(pl.len()).collect().item() > 5_000


def test_pyarrow_still_converts_pandas_when_asked_after_the_probe() -> None:
    """After the probe, an explicit pandas conversion imports pandas and works (a fresh process)."""
    code = (
        "from ingest.lean_imports import skip_pandas_probe\n"
        "import sys, pyarrow as pa\n"
        "assert skip_pandas_probe()\n"
        "pa.array([1, 2])\n"
        "assert 'pandas' not in sys.modules\n"
        "frame = pa.table({'a': pa.array([1, 2])}).to_pandas()\n"
        "import pandas as pd\n"
        "print(int(frame['a'].sum()), pa.Table.from_pandas(pd.DataFrame({'x': [3]})).num_rows)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["3", "1"]
