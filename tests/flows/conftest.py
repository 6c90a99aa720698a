"""Fixtures of the flow tests: one Prefect test API per session, demo studies, table readers.

The Prefect API (``prefect_test_harness``) starts once for the whole session;
subprocesses (the crash-safety tests) reach the same API through
``PREFECT_API_URL``. Demo studies are generated once and copied per test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="irisin-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import duckdb  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

from config.schema import WEEKLY_EXPORT_COLUMNS  # noqa: E402

WAREHOUSE_COMPARED: dict[str, tuple[str, ...]] = {
    "minutes": (),
    "daily_totals": (),
    "sessions": (),
    "profiles": (),
    "files": ("ingested_at",),
    "weekly": (),
    "daily": (),
    "hourly_wear": (),
    "participant_scores": (),
    "cohort_weekly": (),
    "data_notes": (),
}
"""Warehouse tables a crashed-and-resumed run must reproduce exactly, and the columns
that legitimately differ between two runs (wall-clock times)."""


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One ephemeral Prefect API for the whole session (started by the first test that runs a flow); yields its URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        yield str(PREFECT_API_URL.value())


@dataclass(frozen=True)
class DemoCopy:
    """A private copy of the demo study and the generator's truth."""

    root: Path
    expected_weekly: pl.DataFrame


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DemoCopy:
    from pipeline.demo.generate import generate_demo

    demo = generate_demo(tmp_path_factory.mktemp("demo-template") / "demo")
    return DemoCopy(demo.root, demo.expected_weekly)


CRASH_COHORT_IDS = ("P01", "P02", "P05", "P08", "P10")
"""The demo participants of the crash-safety and concurrency studies: FIT monitoring (one with
a TCX run), a zipped Takeout, a Garmin Connect export and an Apple Health export. Every kind
of reader and archive a kill or a concurrent command can interrupt, in a fifth of the demo's
files, because each of these tests runs several flows over the same study."""


@pytest.fixture(scope="session")
def crash_template(tmp_path_factory: pytest.TempPathFactory) -> DemoCopy:
    """A small demo study (``CRASH_COHORT_IDS``) for the tests that kill, resume or overlap runs."""
    from pipeline.demo.cohort import COHORT
    from pipeline.demo.generate import generate_demo

    cohort = tuple(p for p in COHORT if p.participant_id in CRASH_COHORT_IDS)
    demo = generate_demo(tmp_path_factory.mktemp("crash-template") / "demo", cohort=cohort)
    return DemoCopy(demo.root, demo.expected_weekly)


def copy_study(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock"))
    return target


@pytest.fixture
def demo(demo_template: DemoCopy, tmp_path: Path) -> DemoCopy:
    """A fresh copy of the demo study (nothing ingested yet)."""
    return DemoCopy(
        copy_study(demo_template.root, tmp_path / "demo"), demo_template.expected_weekly
    )


@pytest.fixture(scope="session")
def nightly_template(
    demo_template: DemoCopy, tmp_path_factory: pytest.TempPathFactory, prefect_api: str
) -> tuple[DemoCopy, dict[str, Any]]:
    """The demo study after one nightly run, and that run's result (run once per session)."""
    from flows.nightly import nightly_flow

    root = copy_study(demo_template.root, tmp_path_factory.mktemp("after-nightly") / "demo")
    result = nightly_flow(str(root))
    return DemoCopy(root, demo_template.expected_weekly), result


@pytest.fixture
def after_nightly(nightly_template: tuple[DemoCopy, dict[str, Any]], tmp_path: Path) -> DemoCopy:
    """A fresh copy of the demo study as the first nightly left it."""
    template, _ = nightly_template
    return DemoCopy(copy_study(template.root, tmp_path / "demo"), template.expected_weekly)


def weekly_of(root: Path) -> pl.DataFrame:
    """The derived weekly table on the export columns, sorted."""
    return pl.read_parquet(root / "store" / "derived" / "weekly.parquet").sort(
        "participant_id", "week_start"
    )


def export_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` on ``WEEKLY_EXPORT_COLUMNS`` with the weekly table's types, sorted, for comparison with truth."""
    from features.weekly import WEEKLY_COLUMNS

    return frame.select(pl.col(c).cast(WEEKLY_COLUMNS[c]) for c in WEEKLY_EXPORT_COLUMNS).sort(
        "participant_id", "week_start"
    )


def warehouse_tables(root: Path) -> dict[str, pl.DataFrame]:
    """The compared warehouse tables, every row in a canonical order, minus wall-clock columns."""
    con = duckdb.connect(str(root / "store" / "warehouse.duckdb"), read_only=True)
    try:
        tables = {}
        for name, skip in WAREHOUSE_COMPARED.items():
            exclude = f" EXCLUDE ({', '.join(skip)})" if skip else ""
            tables[name] = con.execute(f"SELECT *{exclude} FROM {name} ORDER BY ALL").pl()
        return tables
    finally:
        con.close()
