"""``[execution] engine = "dask"``: the demo backfill on a 2-worker LocalCluster equals the local run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from config import open_study
from config.errors import ConfigError
from config.study import DASK_ADDRESS_ENV, ENGINE_ENV, ExecutionSection, parse_study_config
from tests.flows.conftest import DemoCopy, copy_study
from tests.flows.test_backfill import configure, normalized

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_execution_settings_come_from_study_toml_and_the_environment_wins() -> None:
    cfg = parse_study_config('[execution]\nengine = "dask"\ndask_address = "tcp://10.0.0.5:8786"\n')
    assert (cfg.execution.engine, cfg.execution.dask_address) == ("dask", "tcp://10.0.0.5:8786")
    env = {ENGINE_ENV: "local", DASK_ADDRESS_ENV: "tcp://127.0.0.1:9999"}
    resolved = cfg.execution.resolved(env)
    assert (resolved.engine, resolved.dask_address) == ("local", "tcp://127.0.0.1:9999")
    assert ExecutionSection().resolved({}).engine == "local"
    with pytest.raises(ConfigError, match="IRISIN_ENGINE='spark'"):
        ExecutionSection().resolved({ENGINE_ENV: "spark"})
    with pytest.raises(ConfigError, match="dask_address"):
        parse_study_config('[execution]\ndask_address = "10.0.0.5"\n')


def test_the_engine_is_not_part_of_the_configuration_hash() -> None:
    local = parse_study_config("")
    dask = parse_study_config('[execution]\nengine = "dask"\ndask_workers = 3\n')
    assert local.hash() == dask.hash(), "moving a study to a cluster must not mark its scores stale"


def without_arrival_notes(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The tables with the "same bytes also recorded for X" note cut from the files table.

    The note says which participant's copy of shared bytes was committed
    first: arrival order, which differs between any two concurrent runs (two
    threads locally as much as two Dask workers), not content. Every other
    column and row must be equal.
    """
    files = tables["files"].with_columns(
        pl.col("reason").str.replace(r"; the same bytes are also recorded for .*$", ""),
        pl.when(pl.col("notes").str.contains(r'^\{"same_bytes_also_held_by": \[[^]]*\]\}$'))
        .then(None)
        .otherwise(pl.col("notes"))
        .alias("notes"),
    )
    return {**tables, "files": files.sort(files.columns)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A 2-worker ``distributed.LocalCluster`` (one thread per worker process); yields its scheduler address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield str(c.scheduler_address)


@pytest.mark.slow
def test_the_demo_backfill_on_a_two_worker_cluster_equals_the_local_run(
    demo_template: DemoCopy, tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.backfill import backfill_flow

    local = configure(copy_study(demo_template.root, tmp_path / "local"), batch=4, concurrency=2)
    remote = configure(copy_study(demo_template.root, tmp_path / "dask"), batch=4, concurrency=2)
    toml = remote / "study.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('engine = "local"', 'engine = "dask"', 1),
        encoding="utf-8",
    )
    assert open_study(remote).config.execution.engine == "dask"

    local_result = backfill_flow(str(local), show_progress=False)
    monkeypatch.setenv(DASK_ADDRESS_ENV, cluster)
    dask_result = backfill_flow(str(remote), show_progress=False)

    assert (local_result["engine"], dask_result["engine"]) == ("local", "dask")
    assert dask_result["batches"] == local_result["batches"] == 4  # 13 participants, 4 a batch
    assert dask_result["batches_failed"] == []
    expected = without_arrival_notes(normalized(local))
    got = without_arrival_notes(normalized(remote))
    assert dask_result["files"] == local_result["files"]
    assert expected["minutes"].height > 10_000 and expected["weekly"].height > 50
    shared = expected["files"].group_by("file_id").agg(pl.col("participant_id").n_unique())
    assert shared.filter(pl.col("participant_id") > 1).height >= 1, (
        "the demo's Garmin user_profile.json, the same bytes for two participants in different "
        "batches, is recorded under both (known per participant), whichever batch commits first"
    )
    for name, table in expected.items():
        assert got[name].equals(table), f"table {name} differs between the dask and the local run"
