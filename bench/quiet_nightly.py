"""What a nightly with nothing new costs, part by part (target: under 2 s of its own beyond Prefect's server start).

    python -m bench.quiet_nightly --study DIR     # a study that has had a nightly or backfill

Run in a fresh process. Prints, in order: importing the flow modules (Prefect
included), starting the ephemeral Prefect API (the first, empty flow run),
an empty flow run's own overhead once the API is up, the quiet nightly's wall
time, and the difference (the nightly's own work), then the project functions
that took most of that time (cProfile, cumulative) and the task runs it made.
Also says whether scipy or pandas were imported.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

PROJECT_PACKAGES = ("irisin", "ingest", "store", "features", "models", "config", "flows")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quiet_nightly", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--study", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3, help="quiet nightlies after the first")
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    started = time.perf_counter()
    from prefect import flow

    from flows.nightly import nightly_flow

    import_s = time.perf_counter() - started

    @flow(name="bench-empty", persist_result=False)
    def empty() -> None:
        """A flow that does nothing: what Prefect alone costs per run."""

    started = time.perf_counter()
    empty()
    server_s = time.perf_counter() - started
    overheads, overhead_cpus = [], []
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        empty()
        overheads.append(time.perf_counter() - started)
        overhead_cpus.append(time.process_time() - cpu)
    overhead_s, overhead_cpu = min(overheads), min(overhead_cpus)

    nightly_flow(str(args.study))  # the first may still find something (or recover); not counted
    walls, cpus, result = [], [], None
    profile = cProfile.Profile(
        time.process_time
    )  # CPU seconds: on a shared machine wall time is the load's
    for k in range(args.repeat):
        started, cpu = time.perf_counter(), time.process_time()
        if k == args.repeat - 1:
            profile.enable()
        result = nightly_flow(str(args.study))
        if k == args.repeat - 1:
            profile.disable()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    wall_s, cpu_s = min(walls), min(cpus)
    assert result is not None
    print(f"study: {args.study}; load average {os.getloadavg()[0]:.2f}")
    print(f"  import flows.nightly (Prefect included)   {import_s:6.2f} s")
    print(f"  ephemeral Prefect API start (first flow)  {server_s:6.2f} s")
    print(f"  empty flow run, API up (best of 3)        {overhead_s:6.2f} s")
    print(
        f"  quiet nightly wall (best of {args.repeat})          {wall_s:6.2f} s "
        f"({result['files']['new']} new files, {result.get('ingest_task_runs', '?')} ingest task runs)"
    )
    print(
        f"  nightly's own work (wall - empty flow)    {wall_s - overhead_s:6.2f} s  (target < 2 s)"
    )
    print(
        f"  CPU of this process: empty flow {overhead_cpu:.2f} s, quiet nightly {cpu_s:.2f} s, "
        f"own work {cpu_s - overhead_cpu:.2f} s"
    )
    print(f"  scipy imported: {'scipy' in sys.modules}; pandas imported: {'pandas' in sys.modules}")
    stats = pstats.Stats(profile)
    rows = []
    for (file, line, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(file).parts
        if any(p in PROJECT_PACKAGES for p in parts[-3:-1]) and ".venv" not in parts:
            rows.append((cumulative, f"{Path(file).parent.name}/{Path(file).name}:{line} {name}"))
    print("  project functions, cumulative CPU seconds of the last quiet nightly:")
    for cumulative, where in sorted(rows, reverse=True)[:12]:
        print(f"    {cumulative:6.3f}  {where}")


if __name__ == "__main__":
    main()
