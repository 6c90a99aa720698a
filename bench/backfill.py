"""Backfill benchmark: a generated cohort of monitoring FIT files through the backfill flow, then one nightly.

    python -m bench.backfill                       # 200 participants x 180 days (the acceptance size)
    python -m bench.backfill --participants 20 --days 30

Each participant gets one ``monitoring_b`` FIT file per day (written by the
demo's FIT writer from a synthetic minute truth). All days but the last go
to the inbox and are backfilled; then the last day of every participant
arrives and the nightly flow ingests it. Prints wall time, files/s and minute
rows/s of the backfill, and the nightly's time as a share of it (target:
under 5 %). Next to each wall time: CPU seconds of this process and of the
ephemeral Prefect API server, which on a small machine shares its cores. Generated files are kept in ``--out`` and reused by the next run
with the same size; the store is rebuilt every run.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ZONES = (
    "Europe/Oslo",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Brisbane",
    "UTC",
    "America/Los_Angeles",
)
HELD_BACK = "held-back"
"""Folder (beside the study) with each participant's last day, copied into the inbox for the nightly."""


def participant_ids(n: int) -> list[str]:
    return [f"P{k:03d}" for k in range(1, n + 1)]


def _write_participant(args: tuple[str, int, int, str]) -> int:
    """Write one participant's daily FIT files (all but the last day into the inbox); returns files written."""
    import polars as pl

    from pipeline.demo.cohort import STUDY_START, DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days

    pid, days, index, root = args
    zone = ZONES[index % len(ZONES)]
    p = DemoParticipant(
        pid,
        zone,
        1960 + index % 40,
        55 + index % 15,
        170 + index % 25,
        "fit",
        20 + (index * 37) % 180,
    )
    truth = truth_minutes(p, seed=7, weeks=math.ceil(days / 7))
    local_day = (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))).dt.date()
    day_index = (local_day - pl.lit(STUDY_START)).dt.total_days()
    truth = truth.filter(day_index.is_between(0, days - 1))
    serial = 3_800_000_000 + index
    inbox = Path(root) / "study" / "inbox" / pid / "garmin-sync"
    written = write_monitoring_days(truth.filter(day_index < days - 1), inbox, device_serial=serial)
    held = write_monitoring_days(
        truth.filter(day_index == days - 1), Path(root) / HELD_BACK / pid, device_serial=serial
    )
    return len(written) + len(held)


def generate_cohort(out: Path, participants: int, days: int, workers: int) -> float:
    """Write the study folder and held-back days under ``out`` (skipped when already there); returns seconds."""
    marker = out / f".generated-{participants}x{days}"
    if marker.exists():
        return 0.0
    if out.exists():
        shutil.rmtree(out)
    (out / "study" / "inbox").mkdir(parents=True)
    import polars as pl

    from config.layout import default_study_toml

    pids = participant_ids(participants)
    (out / "study" / "study.toml").write_text(default_study_toml(), encoding="utf-8")
    pl.DataFrame(
        {"participant_id": pids, "timezone": [ZONES[k % len(ZONES)] for k in range(participants)]}
    ).write_csv(out / "study" / "roster.csv")
    started = time.perf_counter()
    # Spawned, not forked: polars' thread pool is already running here (the roster
    # was just written with it), and a forked child can wait forever on its locks.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        list(pool.map(_write_participant, [(pid, days, k, str(out)) for k, pid in enumerate(pids)]))
    marker.touch()
    return time.perf_counter() - started


def reset_store(study: Path) -> None:
    """Remove what earlier runs wrote, and the held-back days copied into the inbox."""
    for name in ("store", "runs"):
        shutil.rmtree(study / name, ignore_errors=True)
    for folder in (study / "inbox").glob("*/new-day"):
        shutil.rmtree(folder)


def deliver_held_back_days(out: Path) -> int:
    """Copy every participant's last day into ``inbox/<pid>/new-day/``; returns files copied."""
    copied = 0
    for folder in sorted((out / HELD_BACK).iterdir()):
        target = out / "study" / "inbox" / folder.name / "new-day"
        shutil.copytree(folder, target)
        copied += sum(1 for _ in target.iterdir())
    return copied


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process, and by its live child processes (the ephemeral Prefect API server).

    On a small machine the API server competes with the pipeline for the same
    cores, so its share of a run is printed next to the pipeline's.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    try:
        import psutil
    except ImportError:  # a dev dependency; without it only this process is counted
        return own, 0.0
    children = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        children += times.user + times.system
    return own, children


def timed_cpu(before: tuple[float, float]) -> str:
    """``'N s CPU here + M s Prefect server'`` since ``before`` (a ``cpu_seconds()`` reading)."""
    own, children = cpu_seconds()
    return f"{own - before[0]:.1f} s CPU here + {children - before[1]:.1f} s CPU Prefect server"


def _decode_all(datas: list[bytes]) -> tuple[float, float]:
    """Wall and CPU seconds of ``decode_fit`` over every file (the floor a backfill is measured against)."""
    from ingest.fit.decode import decode_fit
    from ingest.fit.reader import NEEDED_MESSAGES

    started, cpu = time.perf_counter(), time.process_time()
    for d in datas:
        decode_fit(d, messages=NEEDED_MESSAGES)
    return time.perf_counter() - started, time.process_time() - cpu


def decode_floor_again(study: Path) -> float:
    """The decode-only floor (files/s) measured again, right after the backfill.

    On a shared virtual machine the cores' speed drifts over minutes (the same
    decode has been seen at 1.1 and 2.5 ms a file on one day), so a ratio
    between a floor measured before the backfill and a backfill run later can
    be off by 2x; the bench prints the floor on both sides and the ratio
    against each.
    """
    datas = [f.read_bytes() for f in sorted((study / "inbox").rglob("*.fit"))]
    wall, _ = _decode_all(datas)
    return len(datas) / wall


def stage_rates(study: Path) -> dict[str, float]:
    """Files/s of each stage alone on the inbox's FIT files, in this process, one core:
    read + SHA-256, ``decode_fit`` (the decode-only floor), ``read_fit`` file by file (decode +
    canonical tables) and ``read_fits`` (the same, converted a worker's chunk at a time)."""
    import hashlib

    from ingest.contract import ReadContext
    from ingest.fit.reader import read_fit, read_fits
    from ingest.parallel import FILES_PER_TASK

    files = sorted((study / "inbox").rglob("*.fit"))
    started = time.perf_counter()
    datas = [f.read_bytes() for f in files]
    for d in datas:
        hashlib.sha256(d).digest()
    read_s = time.perf_counter() - started
    decode_s, decode_cpu = _decode_all(datas)
    ctx = ReadContext("P001", "bench", "bench.fit", timezone="Europe/Oslo")
    started, cpu = time.perf_counter(), time.process_time()
    for d in datas:
        read_fit(d, ctx)
    reader_s = time.perf_counter() - started
    reader_cpu = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    for k in range(0, len(datas), FILES_PER_TASK):  # as a reader worker reads a chunk
        read_fits([(d, ctx) for d in datas[k : k + FILES_PER_TASK]])
    batch_s = time.perf_counter() - started
    batch_cpu = time.process_time() - cpu
    n = len(files)
    return {
        "read": n / read_s,
        "decode": n / decode_s,
        "reader": n / reader_s,
        "batched": n / batch_s,
        "decode_cpu_ms": 1000 * decode_cpu / n,
        "reader_cpu_ms": 1000 * reader_cpu / n,
        "batched_cpu_ms": 1000 * batch_cpu / n,
    }


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its largest finished child (reader workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def minute_rows(study: Path) -> int:
    from config import open_study
    from pipeline.jobs import lake_of

    return int(lake_of(open_study(study)).scan("minutes").select("minute_utc").collect().height)


def dask_backfill(study: Path, files: int, local_s: float, workers: int) -> None:
    """The same backfill with ``engine = "dask"`` on a ``LocalCluster`` of ``workers`` processes; prints
    its wall time beside the local engine's and whether every lake and derived table is equal."""
    import polars as pl
    from distributed import LocalCluster

    from config import open_study
    from flows.backfill import backfill_flow
    from pipeline.jobs import derived_of, lake_of

    def tables() -> dict[str, pl.DataFrame]:
        s = open_study(study)
        lake, derived = lake_of(s), derived_of(s)
        out = {t: lake.scan(t).collect() for t in ("minutes", "daily_totals", "sessions")}
        out["files"] = lake.manifest().drop("ingested_at")
        for name in ("weekly", "daily", "participant_scores"):
            frame = derived.read(name)
            out[name] = pl.DataFrame() if frame is None else frame
        return {k: v.sort(v.columns) if v.width else v for k, v in out.items()}

    local = tables()
    reset_store(study)
    started_cluster = time.perf_counter()
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        cluster_s = time.perf_counter() - started_cluster
        os.environ["IRISIN_ENGINE"], os.environ["IRISIN_DASK_ADDRESS"] = (
            "dask",
            str(cluster.scheduler_address),
        )
        try:
            started = time.perf_counter()
            result = backfill_flow(str(study))
            dask_s = time.perf_counter() - started
        finally:
            del os.environ["IRISIN_ENGINE"], os.environ["IRISIN_DASK_ADDRESS"]
    remote = tables()
    equal = [name for name in local if local[name].equals(remote[name])]
    print(
        f"dask engine, LocalCluster of {workers} workers (started in {cluster_s:.1f} s): "
        f"{dask_s:.1f} s wall, {files / dask_s:.1f} files/s, {result['batches']} batch task runs; "
        f"local engine {local_s:.1f} s, {files / local_s:.1f} files/s "
        f"(dask/local time {dask_s / local_s:.2f}); tables equal: {len(equal)} of {len(local)}"
        + ("" if len(equal) == len(local) else f" (differ: {sorted(set(local) - set(equal))})")
    )


def project(
    study: Path, files: int, rows: int, end_to_end: float, flow_cpu: float, worker_cpu: float
) -> None:
    """Print a 5,000 x 365 backfill's time from this run's measured per-file and per-row costs.

    A full derive is run again on its own to split the flow process's CPU into
    per-row work (derive: weekly, daily and hourly tables from the minutes) and
    per-file work (hash, commit, Prefect); reader workers' CPU is per file.
    On N worker cores the reader work spreads; the rest is shown both as it is
    (one process) and spread (participant shards on the Dask engine).
    """
    from config import open_study
    from pipeline.jobs import derive

    cpu = time.process_time()
    derive(open_study(study), None)
    derive_cpu = time.process_time() - cpu
    cohort_files = 5_000 * 365
    cohort_rows = cohort_files * rows / files
    row_us = 1e6 * derive_cpu / rows
    file_ms = 1000 * max(flow_cpu - derive_cpu, 0.0) / files
    worker_ms = 1000 * worker_cpu / files
    print(
        f"measured costs: reader workers {worker_ms:.2f} ms CPU per file, flow process {file_ms:.2f} ms "
        f"per file + derive {row_us:.3f} us per minute row ({rows / files:,.0f} rows per file)"
    )
    serial_h = (cohort_files * (worker_ms + file_ms) / 1e3 + cohort_rows * row_us / 1e6) / 3600
    print(
        f"projection, 5,000 x 365 ({cohort_files:,} files, {cohort_rows / 1e6:,.0f} M minute rows): "
        f"{cohort_files / end_to_end / 3600:.1f} h at this run's end-to-end rate on this machine "
        f"(its load included); {serial_h:.1f} h of CPU in all"
    )

    def hours(n: int, spread_all: bool) -> float:
        rest = cohort_files * file_ms / 1e3 + cohort_rows * row_us / 1e6
        return (cohort_files * worker_ms / 1e3 / n + (rest / n if spread_all else rest)) / 3600

    print(
        "  on N worker cores, readers spread and the flow process alone (local engine): "
        + ", ".join(f"N={n}: {hours(n, False):.1f} h" for n in (2, 8, 32))
    )
    print(
        "  on N worker cores, everything spread by participant shards (Dask engine, ideal): "
        + ", ".join(f"N={n}: {hours(n, True):.1f} h" for n in (2, 8, 32))
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backfill", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "irisin-bench-backfill"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes writing FIT files"
    )
    parser.add_argument(
        "--dask-workers",
        type=int,
        default=0,
        help="also run the same backfill on a LocalCluster of N worker processes (engine = dask) "
        "and print both side by side",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("PREFECT_HOME", str(args.out / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    generated = generate_cohort(args.out, args.participants, args.days, args.workers)
    study = args.out / "study"
    reset_store(study)
    files = sum(1 for p in (study / "inbox").rglob("*.fit"))
    print(
        f"cohort: {args.participants} participants x {args.days} days, {files} FIT files in the inbox"
        + (f" (generated in {generated:.1f} s)" if generated else " (reused)")
    )

    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
    )
    rates = stage_rates(study)

    from prefect import flow

    from flows.backfill import backfill_flow
    from flows.nightly import nightly_flow

    @flow(name="bench-warm-up", persist_result=False)
    def warm_up() -> None:
        """Starts the ephemeral Prefect API before the clock runs."""

    warm_up()

    started, cpu = time.perf_counter(), cpu_seconds()
    from ingest.parallel import worker_cpu_seconds

    workers_before = worker_cpu_seconds()
    result = backfill_flow(str(study))
    worker_cpu = worker_cpu_seconds() - workers_before
    backfill_s = time.perf_counter() - started
    backfill_cpu = timed_cpu(cpu)
    rows = minute_rows(study)
    print(
        f"backfill: {backfill_s:.1f} s wall ({backfill_cpu}), {result['files']['new']} files, "
        f"{files / backfill_s:.1f} files/s, "
        f"{rows} minute rows, {rows / backfill_s:,.0f} minute rows/s, {result['batches']} batches "
        f"(= ingest task runs)"
    )
    end_to_end = files / backfill_s
    print("files/s side by side (stages alone on one core; end to end with the reader pool):")
    print(f"  read bytes + SHA-256      {rates['read']:>10,.0f}")
    print(f"  decode_fit (the floor)    {rates['decode']:>10,.0f}")
    print(
        f"  read_fit (canonical)      {rates['reader']:>10,.0f}  ({100 * rates['reader'] / rates['decode']:.0f} % of decode)"
    )
    print(
        f"  read_fits (batched)       {rates['batched']:>10,.0f}  ({100 * rates['batched'] / rates['decode']:.0f} % of decode)"
    )
    print(
        f"  CPU ms per file: decode {rates['decode_cpu_ms']:.2f}, read_fit {rates['reader_cpu_ms']:.2f}, "
        f"read_fits {rates['batched_cpu_ms']:.2f}"
    )
    after = decode_floor_again(study)
    low, high = sorted((100 * end_to_end / rates["decode"], 100 * end_to_end / after))
    print(
        f"  backfill end to end       {end_to_end:>10,.0f}  ({low:.0f}-{high:.0f} % of decode; target >= 50 %)"
    )
    print(
        f"  decode_fit again, after the backfill: {after:,.0f} files/s "
        f"({100 * (after / rates['decode'] - 1):+.0f} % drift of the machine's speed; "
        "the range above is against the floor before and after)"
    )
    flow_cpu = cpu_seconds()[0] - cpu[0]
    per_file = 1000 * (flow_cpu + worker_cpu) / files
    print(
        f"CPU per file (load-independent): backfill {per_file:.2f} ms (flow process {1000 * flow_cpu / files:.2f} + "
        f"reader workers {1000 * worker_cpu / files:.2f}) against decode_fit alone {rates['decode_cpu_ms']:.2f} ms: "
        f"{100 * rates['decode_cpu_ms'] / per_file:.0f} % of decode speed per core"
    )
    own_mb, child_mb = peak_rss_mb()
    print(f"peak RSS: {own_mb:,.0f} MB this process, {child_mb:,.0f} MB largest child process")

    project(study, files, rows, end_to_end, flow_cpu, worker_cpu)
    if args.dask_workers:
        dask_backfill(study, files, backfill_s, args.dask_workers)
        reset_store(study)
        backfill_flow(str(study))  # the nightlies below start from the local run's store again

    delivered = deliver_held_back_days(args.out)
    started, cpu = time.perf_counter(), cpu_seconds()
    nightly = nightly_flow(str(study))
    nightly_s = time.perf_counter() - started
    print(
        f"nightly (+1 day for {args.participants} participants): {nightly_s:.1f} s wall ({timed_cpu(cpu)}), "
        f"{nightly['files']['new']} of {delivered} new files, {len(nightly['touched'])} participant-weeks touched; "
        f"{100 * nightly_s / backfill_s:.1f} % of the backfill (target < 5 %), "
        f"{nightly.get('ingest_task_runs', '?')} ingest task runs"
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    quiet = nightly_flow(str(study))
    quiet_s = time.perf_counter() - started
    print(
        f"nightly with nothing new: {quiet_s:.2f} s wall ({timed_cpu(cpu)}), "
        f"{quiet['files']['new']} new files, {quiet.get('ingest_task_runs', '?')} ingest task runs"
    )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")


if __name__ == "__main__":
    main()
