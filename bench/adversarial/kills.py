"""SIGKILL of a backfill and of a nightly at 16 points; the next run must equal a clean run.

The demo study is backfilled (and, apart, given a nightly) once cleanly.
Each kill point then runs the same job on a fresh copy in a subprocess
(against one Prefect API for the whole area, as the flow tests do), kills it
with SIGKILL where the point says, runs the job again in this process and
compares every warehouse table with the clean run's.

Backfill points are the flow's own hold points (``flows.backfill.HOLD_ENV``:
inside a batch after a participant, between batches, after derive, after
publish) plus a kill the moment the first lake part appears. Nightly points
are moments seen on disk: the first manifest part, the first minutes part,
the derived weekly table, the warehouse.

*Good records lost*: rows of the clean run's tables missing from the resumed
run's, plus rows the resumed run has that the clean one does not.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from bench.adversarial.figures import AreaFigures
from tests.flows.conftest import copy_study, warehouse_tables
from tests.flows.test_backfill import REPO, configure, kill, start_backfill
from tests.flows.test_inbox_safety import RUN_NIGHTLY, _env

BACKFILL_HOLDS = (
    "participant-P01",
    "participant-P02",
    "participant-P05",
    "participant-P08",
    "participant-P13",
    "batch-1",
    "batch-2",
    "batch-3",
    "batch-4",
    "derived",
    "published",
)
NIGHTLY_MOMENTS: dict[str, Callable[[Path], bool]] = {
    "first manifest part": lambda root: any((root / "store" / "lake" / "files").rglob("*.parquet")),
    "first minutes part": lambda root: any(
        (root / "store" / "lake" / "minutes").rglob("*.parquet")
    ),
    "derived weekly written": lambda root: (root / "store" / "derived" / "weekly.parquet").exists(),
    "warehouse written": lambda root: (root / "store" / "warehouse.duckdb").exists(),
}


@contextmanager
def _prefect_api() -> Iterator[str]:
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        yield str(PREFECT_API_URL.value())


def _wait(
    condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 300
) -> bool:
    """True once ``condition`` holds; False if the job ended first (a point it never reached)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def comparable(root: Path) -> dict[str, pl.DataFrame]:
    """The warehouse tables, file paths cut to their part from ``inbox/`` on (copies live elsewhere)."""
    tables = warehouse_tables(root)
    files = tables["files"].with_columns(pl.col("path").str.replace(r"^.*?/inbox/", "inbox/"))
    tables["files"] = files.sort(files.columns)
    return tables


def _difference(expected: dict[str, pl.DataFrame], got: dict[str, pl.DataFrame]) -> int:
    rows = 0
    for name, table in expected.items():
        other = got[name].select(table.columns)
        rows += table.join(other, on=table.columns, how="anti", nulls_equal=True).height
        rows += other.join(table, on=table.columns, how="anti", nulls_equal=True).height
    return rows


def run(folder: Path) -> AreaFigures:
    from flows.backfill import backfill_flow
    from flows.nightly import nightly_flow
    from pipeline.demo.generate import generate_demo

    fig = AreaFigures("kills of nightly and backfill")
    demo = generate_demo(folder / "template" / "demo")
    with _prefect_api() as api:
        clean_backfill = configure(
            copy_study(demo.root, folder / "clean-b"), batch=3, concurrency=1
        )
        backfill_flow(str(clean_backfill), show_progress=False)
        expected_b = comparable(clean_backfill)
        clean_nightly = copy_study(demo.root, folder / "clean-n")
        nightly_flow(str(clean_nightly))
        expected_n = comparable(clean_nightly)

        points: list[tuple[str, str, Callable[[Path, subprocess.Popen[bytes]], bool]]] = []
        for hold in BACKFILL_HOLDS:
            points.append(
                (
                    f"backfill at {hold}",
                    hold,
                    lambda root, proc, hold=hold: _wait(
                        lambda: any(root.glob(f"runs/backfill-*/held-at-{hold}")), proc
                    ),
                )
            )
        points.append(
            (
                "backfill as the first lake part appears",
                "",
                lambda root, proc: _wait(
                    lambda: any((root / "store" / "lake").rglob("*.parquet")), proc
                ),
            )
        )
        for moment, seen in NIGHTLY_MOMENTS.items():
            points.append(
                (
                    f"nightly at {moment}",
                    "nightly",
                    lambda root, proc, seen=seen: _wait(lambda: seen(root), proc),
                )
            )

        for i, (label, hold, reached) in enumerate(points):
            fig.cases += 1
            nightly = hold == "nightly"
            root = copy_study(demo.root, folder / f"kill-{i:02d}")
            if not nightly:
                configure(root, batch=3, concurrency=1)
                proc = start_backfill(root, api, hold=hold or None)
            else:
                proc = subprocess.Popen(
                    [sys.executable, "-c", RUN_NIGHTLY, str(root)],
                    cwd=REPO,
                    env=_env(api),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            if not reached(root, proc):
                fig.outcomes["point not reached (job ended first)"] += 1
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                if proc.stderr is not None:
                    proc.stderr.close()
            else:
                kill(proc)
            try:
                if nightly:
                    nightly_flow(str(root))
                else:
                    backfill_flow(str(root), show_progress=False)
                got = comparable(root)
            except Exception as error:  # the next run must complete
                fig.crashed(label, error)
                continue
            lost = _difference(expected_n if nightly else expected_b, got)
            fig.good_lost += lost
            fig.outcomes["next run equals the clean run" if lost == 0 else "next run differs"] += 1
            if lost and len(fig.loss_examples) < 8:
                fig.loss_examples.append(f"{label}: {lost} rows differ from the clean run")
    return fig
