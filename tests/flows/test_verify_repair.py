"""Damage and repair (issue 15 item 5) on the demo study after a nightly.

A committed lake part truncated, a derived table overwritten, the Prefect
database corrupted: ``irisin verify`` names each and exits 1; ``irisin
repair`` (or, for a derived table, the next nightly) brings every warehouse
table back equal to the clean run's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from config import open_study
from flows.nightly import nightly_flow
from irisin.cli import app
from pipeline.jobs import derive, lake_of
from store.verify import LakeDamaged
from tests.flows.conftest import DemoCopy, warehouse_tables

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _a_minutes_part(root: Path) -> Path:
    parts = lake_of(open_study(root)).committed_parts("minutes")
    return Path(max(parts, key=lambda p: Path(p).stat().st_size))


def test_a_truncated_lake_part_is_named_and_repair_rebuilds_it_from_the_raw_files(
    after_nightly: DemoCopy,
) -> None:
    root = after_nightly.root
    clean = warehouse_tables(root)
    assert _cli("verify", "--study", str(root))[0] == 0
    part = _a_minutes_part(root)
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])

    code, out = _cli("verify", "--study", str(root))
    assert code == 1 and f"damaged lake part: {part}" in out
    with pytest.raises(LakeDamaged, match=str(part)):  # what a nightly, rescore or export meets
        derive(open_study(root), None)

    code, out = _cli("repair", "--study", str(root))
    assert code == 0, out
    assert "removed damaged batch" in out and "ingested" in out
    assert _cli("verify", "--study", str(root))[0] == 0
    repaired = warehouse_tables(root)
    for name, table in clean.items():
        if name == "files":  # this copy of the study records its files under its own folder
            table, repaired[name] = (
                t.with_columns(pl.col("path").str.replace(r"^.*/demo/inbox/", "inbox/")).sort(
                    pl.all()
                )
                for t in (table, repaired[name])
            )
        assert repaired[name].equals(table), (
            name,
            [c for c in table.columns if not repaired[name][c].equals(table[c])],
        )


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("weekly", lambda data: b"PAR1 not really" + os.urandom(200)),
        # found by bench.adversarial: a nightly with nothing new never read these, then failed
        # in its summary (duckdb: 'too small to be a Parquet file') every night
        ("daily", lambda data: b""),
        ("participant_scores", lambda data: data[: len(data) // 2]),
    ],
)
def test_a_corrupt_derived_table_is_named_and_the_next_nightly_rebuilds_it(
    after_nightly: DemoCopy, name: str, damage: Callable[[bytes], bytes]
) -> None:
    root = after_nightly.root
    clean = warehouse_tables(root)
    table = root / "store" / "derived" / f"{name}.parquet"
    table.write_bytes(damage(table.read_bytes()))

    code, out = _cli("verify", "--study", str(root))
    assert code == 1 and f"damaged derived table: {table}" in out

    result = nightly_flow(str(root))
    assert result["full_recompute"] is True
    assert _cli("verify", "--study", str(root))[0] == 0
    rebuilt = warehouse_tables(root)
    for compared in ("weekly", "daily", "hourly_wear", "participant_scores", "cohort_weekly"):
        assert rebuilt[compared].equals(clean[compared]), compared


def test_a_corrupt_prefect_database_is_named_and_moved_aside(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = after_nightly.root
    home = root / ".prefect-under-test"
    home.mkdir()
    database = home / "prefect.db"
    database.write_bytes(b"SQLite format 3\x00" + b"\x00\xff" * 4096)
    monkeypatch.setenv("PREFECT_HOME", str(home))

    code, out = _cli("verify", "--study", str(root))
    assert code == 1 and f"damaged prefect database: {database}" in out

    code, out = _cli("repair", "--study", str(root))
    assert code == 0 and "moved the corrupt Prefect database aside" in out
    assert not database.exists() and len(list(home.glob("prefect.db.corrupt-*"))) == 1
    assert _cli("verify", "--study", str(root))[0] == 0


def test_a_flow_command_sets_a_corrupt_prefect_database_aside_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import init_study
    from irisin.cli import _prefect_env

    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "prefect.db").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    study = tmp_path / "study"
    init_study(study)  # an empty folder is refused before Prefect is touched
    _prefect_env(study)
    assert not (home / "prefect.db").exists() and len(list(home.glob("prefect.db.corrupt-*"))) == 1
