"""``[execution] engine = "dask"``: the demo backfill and a rescore on a 2-worker LocalCluster equal the
local runs, and every flow makes a number of task runs bounded by its shards, not its files (counted
by the Prefect API itself)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from config import open_study
from config.errors import ConfigError
from config.study import DASK_ADDRESS_ENV, ENGINE_ENV, ExecutionSection, parse_study_config
from pipeline.jobs import MAX_SHARDS, UTC_HOURS, _derive_state, participant_shards
from store.derived import DerivedStore
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
    reason = pl.col("reason").str.replace(r"(^|; )the same bytes are also recorded for .*$", "")
    notes = pl.col("notes").str.replace(r', "same_bytes_also_held_by": \[[^]]*\]', "")
    files = tables["files"].with_columns(
        pl.when(reason == "").then(None).otherwise(reason).alias("reason"),
        pl.when(notes.str.contains(r'^\{"same_bytes_also_held_by": \[[^]]*\]\}$'))
        .then(None)
        .otherwise(notes)
        .alias("notes"),
    )
    return {**tables, "files": files.sort(files.columns)}


def recorded_task_runs(flow_name: str, study_dir: Path) -> dict[str, int]:
    """Task runs the Prefect API recorded for the runs of ``flow_name`` on ``study_dir``, by task name.

    Task run states reach the API as events, a moment after the flow
    returns, so the count is read until it holds still.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterId,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))
        ids = [r.id for r in runs if r.parameters.get("study_dir") == str(study_dir)]
        assert ids, f"no {flow_name} run on {study_dir} recorded"
        counts: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while True:
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200
            )
            now: dict[str, int] = {}
            for t in tasks:
                now[t.task_key.rsplit("-", 1)[0]] = now.get(t.task_key.rsplit("-", 1)[0], 0) + 1
            if (now == counts and now) or time.monotonic() > deadline:
                return now
            counts = now
            time.sleep(2)


def test_shards_are_bounded_whatever_the_cohort() -> None:
    assert [len(s) for s in participant_shards([f"P{i}" for i in range(10)], 4)] == [4, 4, 2]
    big = participant_shards([f"P{i:05d}" for i in range(100_000)], 25)
    assert len(big) <= MAX_SHARDS and sum(len(s) for s in big) == 100_000
    assert len(big[0]) == 334, "100,000 participants at 25 a shard would be 4,000 task runs"


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
        assert got[name].equals(table), (
            f"table {name} differs between the dask and the local run: only local "
            f"{table.join(got[name], on=table.columns, how='anti', nulls_equal=True).to_dicts()[:3]}, "
            f"only dask {got[name].join(table, on=table.columns, how='anti', nulls_equal=True).to_dicts()[:3]}"
        )
    hours = [_derive_state(open_study(root)).read(UTC_HOURS) for root in (local, remote)]
    assert hours[0] is not None and hours[0].height > 1000 and hours[0].equals(hours[1]), (
        "the UTC-hour totals of the data notes, one per dask shard, equal the local pass"
    )
    # Task runs follow the batches, never the files (432 files, 13 participants, 4 a batch).
    files = local_result["files"]["seen"]
    for root, result, derive_runs in ((local, local_result, 1), (remote, dask_result, 4)):
        assert result["derive_task_runs"] == derive_runs
        runs = recorded_task_runs("irisin-backfill", root)
        on_worker = "ingest_batch_on_worker" if result["engine"] == "dask" else "ingest_batch"
        derive = "derive_shard_on_worker" if result["engine"] == "dask" else "derive_weeks"
        assert runs == {on_worker: 4, derive: derive_runs, "publish_warehouse": 1}, runs
        assert sum(runs.values()) <= 2 * result["batches"] + 1 and sum(runs.values()) * 40 < files


def derived_tables(root: Path) -> dict[str, pl.DataFrame]:
    """Every derived table of a study, rows in a canonical order."""
    store = DerivedStore(root / "store" / "derived")
    tables: dict[str, pl.DataFrame] = {}
    for name in ("weekly", "daily", "hourly_wear", "exclusions", "participant_scores"):
        table = store.read(name)
        assert table is not None, name
        tables[name] = table.sort(table.columns)
    return tables


@pytest.mark.slow
def test_a_rescore_on_a_two_worker_cluster_equals_the_local_rescore(
    after_nightly: DemoCopy, tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.rescore import rescore_flow

    local = after_nightly.root
    remote = shutil.copytree(local, tmp_path / "dask", ignore=shutil.ignore_patterns(".lock"))
    for root, engine in ((local, "local"), (remote, "dask")):
        toml = root / "study.toml"
        text = toml.read_text(encoding="utf-8")
        text = text.replace('engine = "local"', f'engine = "{engine}"', 1)
        text = text.replace("backfill_batch_participants = 25", "backfill_batch_participants = 4")
        text = text.replace("threshold_minutes_per_week = 60", "threshold_minutes_per_week = 45", 1)
        assert (
            "threshold_minutes_per_week = 45" in text and "backfill_batch_participants = 4" in text
        )
        toml.write_text(text, encoding="utf-8")
    before = derived_tables(local)

    local_result: dict[str, Any] = rescore_flow(str(local))
    monkeypatch.setenv(DASK_ADDRESS_ENV, cluster)
    dask_result: dict[str, Any] = rescore_flow(str(remote))

    assert (local_result["engine"], dask_result["engine"]) == ("local", "dask")
    participants = open_study(local).roster.height
    assert participants >= 13
    assert dask_result["derive_task_runs"] == -(-participants // 4), "one task run a shard of 4"
    assert local_result["config_changed"] and dask_result["config_changed"]
    expected, got = derived_tables(local), derived_tables(remote)
    assert not expected["weekly"].equals(before["weekly"]), "the new threshold changes statuses"
    assert expected["weekly"].height > 50 and expected["daily"].height > 300
    for name, table in expected.items():
        assert got[name].equals(table), f"derived table {name} differs between dask and local"
    assert without_arrival_notes(normalized(remote))["weekly"].equals(
        without_arrival_notes(normalized(local))["weekly"]
    )
    runs = recorded_task_runs("irisin-rescore", remote)
    assert runs == {
        "derive_shard_on_worker": dask_result["derive_task_runs"],
        "publish_warehouse": 1,
    }


def test_a_nightly_makes_a_task_run_per_shard_of_participants_not_per_file(
    nightly_template: tuple[DemoCopy, dict[str, Any]],
) -> None:
    template, result = nightly_template
    files = result["files"]["new"]
    participants = open_study(template.root).roster.height
    runs = recorded_task_runs("irisin-nightly", template.root)
    shards = -(-participants // 25)  # the default [ingest] backfill_batch_participants
    assert result["ingest_task_runs"] == shards == 1
    assert runs == {"ingest_shard": shards, "derive_weeks": 1, "publish_warehouse": 1}, runs
    assert files > 400, "the first demo nightly reads every raw file: one task run per file was 461"
