"""The same backfill on the local engine and on a 2-worker Dask ``LocalCluster``, side by side (issue 17).

    .venv/bin/python -m bench.engines --participants 40 --days 60

The cohort is ``bench.backfill``'s (one monitoring FIT file per participant
and day, generated once into ``--out`` and reused). The store is wiped, the
backfill runs with ``engine = "local"``, the store is wiped again and the
same backfill runs with ``engine = "dask"`` against a ``LocalCluster`` of
``--workers`` processes started for it; then a rescore runs on each engine.
For each: wall seconds, CPU seconds of the whole process tree (this process,
the Prefect API server, reader-pool or Dask worker processes), files/s, the
task runs it made, and whether every lake and derived table is equal.

On two cores the engines should be close: the point is equal results and a
bounded overhead, not speed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from bench.backfill import generate_cohort, reset_store


def tree_cpu_seconds() -> float:
    """CPU seconds of this process, of its children that have ended, of those still running, and
    of the local engine's reader workers (forked by a server process, so no child of this one)."""
    import psutil

    from ingest.parallel import worker_cpu_seconds

    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime + worker_cpu_seconds()
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # ended between listing and asking
            continue
        total += times.user + times.system
    return total


def tables(study: Path) -> dict[str, pl.DataFrame]:
    """The lake's canonical tables and manifest and every derived table, rows in a canonical order."""
    from config import open_study
    from pipeline.jobs import derived_of, lake_of

    s = open_study(study)
    lake, derived = lake_of(s), derived_of(s)
    out = {t: lake.scan(t).collect() for t in ("minutes", "daily_totals", "sessions", "profiles")}
    out["files"] = lake.manifest().drop("ingested_at")
    for name in ("weekly", "daily", "hourly_wear", "exclusions", "participant_scores"):
        frame = derived.read(name)
        out[name] = pl.DataFrame() if frame is None else frame
    return {k: v.sort(v.columns) if v.width else v for k, v in out.items()}


@contextmanager
def engine(name: str, address: str | None) -> Iterator[None]:
    """``IRISIN_ENGINE`` (and ``IRISIN_DASK_ADDRESS``) set for the runs inside."""
    os.environ["IRISIN_ENGINE"] = name
    if address:
        os.environ["IRISIN_DASK_ADDRESS"] = address
    try:
        yield
    finally:
        os.environ.pop("IRISIN_ENGINE", None)
        os.environ.pop("IRISIN_DASK_ADDRESS", None)


def timed(run: Callable[[], dict[str, Any]]) -> tuple[float, float, dict[str, Any]]:
    """Wall and process-tree CPU seconds of ``run()``, and its result."""
    wall, cpu = time.perf_counter(), tree_cpu_seconds()
    result = run()
    return time.perf_counter() - wall, tree_cpu_seconds() - cpu, result


def line(label: str, wall: float, cpu: float, files: int, result: dict[str, Any]) -> str:
    runs = result.get("batches", 0) + result.get("derive_task_runs", 0) + 1
    return (
        f"  {label:<28} {wall:7.1f} s wall {cpu:7.1f} s CPU"
        + (f" {files / wall:7.1f} files/s" if files else " " * 15)
        + f"  {runs} task runs"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engines", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "irisin-bench-backfill"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_HOME", str(args.out / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    generate_cohort(args.out, args.participants, args.days, 1)
    study = args.out / "study"
    reset_store(study)
    # enough shards for every worker: four per worker, the same setting for both engines
    per_shard = max(1, -(-args.participants // (4 * args.workers)))
    toml = study / "study.toml"
    toml.write_text(
        re.sub(
            r"(?m)^backfill_batch_participants = \d+",
            f"backfill_batch_participants = {per_shard}",
            toml.read_text(encoding="utf-8"),
        ),
        encoding="utf-8",
    )
    files = sum(1 for _ in (study / "inbox").rglob("*.fit"))
    load = os.getloadavg()[0]
    print(
        f"cohort: {args.participants} participants x {args.days} days, {files} FIT files, "
        f"{per_shard} participants a shard; "
        f"{os.cpu_count()} cores, load average {load:.2f} at start"
    )

    from distributed import LocalCluster
    from prefect import flow

    from flows.backfill import backfill_flow
    from flows.rescore import rescore_flow

    @flow(name="bench-warm-up", persist_result=False)
    def warm_up() -> None:
        """Starts the ephemeral Prefect API before the clock runs."""

    warm_up()

    with engine("local", None):
        local_b = timed(lambda: backfill_flow(str(study), show_progress=False))
        local_r = timed(lambda: rescore_flow(str(study)))
    local = tables(study)

    reset_store(study)
    started = time.perf_counter()
    cpu = tree_cpu_seconds()
    with LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        cluster_s = time.perf_counter() - started
        with engine("dask", str(cluster.scheduler_address)):
            dask_b = timed(lambda: backfill_flow(str(study), show_progress=False))
            dask_r = timed(lambda: rescore_flow(str(study)))
    # worker processes' CPU counts once they have ended: the whole cluster's, start to close
    dask_total_cpu = tree_cpu_seconds() - cpu
    remote = tables(study)

    print(f"local engine (reader pool of {os.cpu_count()} processes):")
    print(line("backfill", local_b[0], local_b[1], files, local_b[2]))
    print(line("rescore", local_r[0], local_r[1], 0, local_r[2]))
    print(f"dask engine (LocalCluster of {args.workers} workers, started in {cluster_s:.1f} s):")
    print(line("backfill", dask_b[0], dask_b[1], files, dask_b[2]))
    print(line("rescore", dask_r[0], dask_r[1], 0, dask_r[2]))
    print(
        f"  whole cluster run, start to close: {dask_total_cpu:.1f} s CPU "
        "(worker processes included once they end)"
    )
    print(
        f"dask/local: backfill wall {dask_b[0] / local_b[0]:.2f}, rescore wall "
        f"{dask_r[0] / local_r[0]:.2f}; backfill+rescore CPU "
        f"{dask_total_cpu / (local_b[1] + local_r[1]):.2f}"
    )
    same = [name for name in local if local[name].equals(remote[name])]
    differ = sorted(set(local) - set(same))
    print(
        f"tables equal: {len(same)} of {len(local)} ({', '.join(sorted(local))})"
        + (f"; differ: {differ}" if differ else "")
    )
    # the store stays as the dask run left it (e.g. for python -m bench.quiet_nightly --study ...)


if __name__ == "__main__":
    main()
