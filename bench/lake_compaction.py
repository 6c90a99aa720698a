"""Lake files after a simulated year of nightlies, before and after compaction (issue 17 item 2).

A year of nightlies is generated, not waited for: every night, every
participant gets one batch (one day of minutes, its daily total, a manifest
row), written through ``Lake.write_batch`` exactly as an ingest writes it.
Then the lake is compacted and swept as a nightly's publish does, and the
figures a run pays for are measured before and after: files in the lake,
``Lake.recover`` and a warehouse refresh (plus one query through it).

    .venv/bin/python -m bench.lake_compaction --participants 1000 --days 7

``--minutes-per-day`` keeps the generated rows small (a file count does not
depend on rows); ``--compact-every`` compacts as the nightly would, every
night once a bucket passes the threshold, instead of once at the end.

A whole year, in minutes rather than hours:

    .venv/bin/python -m bench.lake_compaction --participants 1000 --days 365 --direct

``Lake.write_batch`` costs about 4 ms a batch (three zstd Parquet writes and
its bookkeeping): 365,000 batches would take 25 minutes of CPU before any
figure. ``--direct`` writes each night's parts straight to the paths
``write_batch`` would give them, data parts first and the manifest part (the
commit) last, uncompressed and without the temporary name: the same lake,
file for file, at about a tenth of the cost. ``--measure-after`` also
measures ``recover`` and the warehouse refresh after that many nights (a
month, by default) on the way; the warehouse refresh on the whole
uncompacted year is skipped above ``--refresh-limit`` files (its SQL lists
every part: it would take far longer than the rest of the run).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from config.conform import conform
from config.schema import FILES, LAKE_TABLES
from store.atomic import not_durable
from store.derived import DerivedStore
from store.lake import BUCKETS, COMPACT_AFTER_BATCHES, MANIFEST, Batch, Lake, batch_id_for
from store.warehouse import connect_read_only, refresh_warehouse

UTC_TS = pa.timestamp("us", tz="UTC")


def now() -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of this process so far."""
    t = os.times()
    return time.perf_counter(), t.user + t.system


def since(start: tuple[float, float]) -> str:
    """``'W s (C s CPU)'`` since ``start``: the machine is shared, so CPU is the steadier figure."""
    wall, cpu = now()
    return f"{wall - start[0]:.2f} s ({cpu - start[1]:.2f} s CPU)"


def file_id_of(pid: str, day: date) -> str:
    return hashlib.sha256(f"{pid}/{day.isoformat()}".encode()).hexdigest()


def day_batch(pid: str, day: date, minutes_per_day: int = 24, fid: str | None = None) -> Batch:
    """One participant's nightly batch for ``day``: a file of minutes and its daily total."""
    fid = fid or file_id_of(pid, day)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    step = 1440 // minutes_per_day
    stamps = [start + timedelta(minutes=i * step) for i in range(minutes_per_day)]
    rng = np.random.default_rng(int(fid[:8], 16))
    minutes = pa.table(
        {
            "participant_id": [pid] * minutes_per_day,
            "minute_utc": pa.array(stamps, UTC_TS),
            "source": ["fit_monitoring"] * minutes_per_day,
            "steps": pa.array(rng.integers(0, 120, minutes_per_day), pa.int32()),
            "file_id": [fid] * minutes_per_day,
        }
    )
    daily = pa.table(
        {
            "participant_id": [pid],
            "source": ["fit_monitoring"],
            "local_date": pa.array([day], pa.date32()),
            "steps": pa.array([int(minutes.column("steps").to_numpy().sum())], pa.int32()),
            "bouted": [False],
            "file_id": [fid],
        }
    )
    manifest = pa.table(
        {
            "file_id": [fid],
            "path": [f"{pid}/{day.isoformat()}.fit"],
            "participant_id": [pid],
            "kind": ["fit_monitoring"],
            "size_bytes": [4096],
            "status": ["ok"],
            "rows_minutes": [minutes_per_day],
            "rows_daily_totals": [1],
            "rows_sessions": [0],
            "ingested_at": pa.array([start + timedelta(days=1)], UTC_TS),
        }
    )
    return Batch(pid, {"minutes": minutes, "daily_totals": daily}, manifest)


TEMPLATE_PID = "Pzzzzz"
"""Participant id of a night's template parts (the generated ids, ``P00000``..., have its length)."""
TEMPLATE_FID = "f" * 64
"""File id of a night's template parts (a SHA-256 in hex has its length)."""


def night_template(day: date, minutes_per_day: int) -> dict[str, bytes]:
    """The uncompressed Parquet bytes of one night's batch parts (each table and the manifest), for
    the template participant and file id: every participant's parts that night are these bytes with
    the two ids swapped (same lengths, so every offset in the file stays right)."""
    batch = day_batch(TEMPLATE_PID, day, minutes_per_day, fid=TEMPLATE_FID)
    out: dict[str, bytes] = {}
    for name, table in (*batch.tables.items(), (MANIFEST, batch.manifest)):
        sink = pa.BufferOutputStream()
        schema = FILES if name == MANIFEST else LAKE_TABLES[name]
        pq.write_table(conform(table, schema), sink, compression="none", use_dictionary=False)
        out[name] = sink.getvalue().to_pybytes()
        ids = out[name].count(TEMPLATE_PID.encode()), out[name].count(TEMPLATE_FID.encode())
        assert all(ids), f"template {name} part lacks an id to swap: {ids}"
    return out


def write_night_directly(lake: Lake, pids: list[str], day: date, minutes_per_day: int) -> None:
    """Every participant's batch of ``day`` at the paths ``Lake.write_batch`` gives them, manifest last.

    A fresh lake has no retirements or replaced files, so a batch's id is
    the plain ``batch_id_for`` of its file, as ``write_batch`` chooses it.
    Uncompressed and straight to the final name (no temporary file): a
    generated lake needs the same files, not crash safety.
    """
    template = night_template(day, minutes_per_day)
    for pid in pids:
        fid = file_id_of(pid, day)
        bid = batch_id_for([fid])
        for name, data in template.items():  # data parts first, the manifest (the commit) last
            path = lake._part(name, pid, bid)  # noqa: SLF001 - the lake's own layout
            body = data.replace(TEMPLATE_PID.encode(), pid.encode()).replace(
                TEMPLATE_FID.encode(), fid.encode()
            )
            try:
                out = open(path, "wb")  # noqa: SIM115
            except FileNotFoundError:  # a participant's first night
                Path(path).parent.mkdir(parents=True)
                out = open(path, "wb")  # noqa: SIM115
            with out:
                out.write(body)


def check_direct_parts(lake: Lake, pid: str, day: date, minutes_per_day: int) -> None:
    """The parts written directly read back as ``day_batch`` builds them for that participant
    (steps apart: a night's template draws them once for everyone)."""
    fid = file_id_of(pid, day)
    expected = day_batch(pid, day, minutes_per_day, fid=fid)
    bid = batch_id_for([fid])
    for name, table in (*expected.tables.items(), (MANIFEST, expected.manifest)):
        schema = FILES if name == MANIFEST else LAKE_TABLES[name]
        path = lake._part(name, pid, bid)  # noqa: SLF001
        got, want = pq.read_table(path, partitioning=None), conform(table, schema)
        if "steps" in want.column_names:
            got, want = got.drop(["steps"]), want.drop(["steps"])
        assert got.equals(want), f"{path} is not the part write_batch would write"


def simulate(
    root: Path,
    participants: int,
    days: int,
    minutes_per_day: int,
    compact_every: bool,
    threshold: int,
    *,
    direct: bool = False,
    measure_after: int = 0,
    work: Path | None = None,
) -> Lake:
    lake = Lake(root)
    first = date(2025, 1, 1)
    with (
        not_durable()
    ):  # the figures are about files, not disk latency; the generation would wait on fsync
        _nights(
            lake,
            first,
            participants,
            days,
            minutes_per_day,
            compact_every,
            threshold,
            direct=direct,
            measure_after=measure_after,
            work=work,
        )
    return lake


def _nights(
    lake: Lake,
    first: date,
    participants: int,
    days: int,
    minutes_per_day: int,
    compact_every: bool,
    threshold: int,
    *,
    direct: bool,
    measure_after: int,
    work: Path | None,
) -> None:
    pids = [f"P{i:05d}" for i in range(participants)]
    started = now()
    for d in range(days):
        day = first + timedelta(days=d)
        if direct:
            write_night_directly(lake, pids, day, minutes_per_day)
            if d == 0:
                check_direct_parts(lake, pids[-1], day, minutes_per_day)
        else:
            for pid in pids:
                lake.write_batch(day_batch(pid, day, minutes_per_day))
        if compact_every:
            lake.compact(threshold)
            lake.sweep()
        if d + 1 == measure_after and work is not None:
            built = since(started)
            files = lake.file_count()
            rec, ref, rows = timed_recover_and_refresh(Path(lake.root), work / f"night-{d + 1}")
            print(
                f"after {d + 1} nights (generated in {built}), uncompacted: {files:,} files;"
                f" recover {rec}; warehouse refresh + count {ref} ({rows:,} minute rows)",
                flush=True,
            )
        elif (d + 1) % 30 == 0:
            print(f"  {d + 1} nights written ({since(started)})", flush=True)


def timed_recover_and_refresh(
    lake_root: Path, work: Path, *, refresh: bool = True
) -> tuple[str, str, int]:
    """Time of ``recover`` on a fresh lake object, of a warehouse refresh, and minute rows through it
    (``refresh=False``: the recover alone, and -1 rows)."""
    lake = Lake(lake_root)
    t0 = now()
    lake.recover()
    recovered = since(t0)
    if not refresh:
        return recovered, "skipped", -1
    t1 = now()
    target = refresh_warehouse(lake, DerivedStore(work / "derived"), work / "w.duckdb")
    con = connect_read_only(target)
    try:
        row = con.execute("SELECT count(*) FROM minutes").fetchone()
    finally:
        con.close()
    refreshed = since(t1)
    assert row is not None
    return recovered, refreshed, int(row[0])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=1000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--minutes-per-day", type=int, default=24)
    ap.add_argument("--threshold", type=int, default=COMPACT_AFTER_BATCHES)
    ap.add_argument("--compact-every", action="store_true", help="compact every night")
    ap.add_argument("--keep", type=Path, help="build the lake here and keep it")
    ap.add_argument(
        "--direct",
        action="store_true",
        help="write each night's parts straight to write_batch's paths (a year in minutes)",
    )
    ap.add_argument(
        "--measure-after", type=int, default=30, help="also measure after N nights (0: no)"
    )
    ap.add_argument(
        "--refresh-limit",
        type=int,
        default=300_000,
        help="skip the warehouse refresh of the uncompacted lake above this many files",
    )
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="irisin-lake-bench-"))
    root = work / "lake"
    try:
        t0 = now()
        lake = simulate(
            root,
            args.participants,
            args.days,
            args.minutes_per_day,
            args.compact_every,
            args.threshold,
            direct=args.direct,
            measure_after=args.measure_after if args.measure_after < args.days else 0,
            work=work,
        )
        built = since(t0)
        print(
            f"{args.participants} participants x {args.days} nightlies, {BUCKETS} buckets,"
            f" threshold {args.threshold}, compact every night: {args.compact_every},"
            f" written {'directly' if args.direct else 'by Lake.write_batch'}"
        )
        print(f"generated in {built}")
        before = lake.file_count()
        refresh = before <= args.refresh_limit
        rec_b, ref_b, rows_b = timed_recover_and_refresh(root, work / "before", refresh=refresh)
        print(
            f"before final compaction: {before:,} files; recover {rec_b}; "
            + (
                f"warehouse refresh + count {ref_b} ({rows_b:,} minute rows)"
                if refresh
                else f"warehouse refresh skipped ({before:,} files > --refresh-limit)"
            ),
            flush=True,
        )
        t0 = now()
        report = Lake(root).compact(1)
        compact_s = since(t0)
        t0 = now()
        swept = Lake(root).sweep()
        sweep_s = since(t0)
        after = Lake(root).file_count()
        rec_a, ref_a, rows_a = timed_recover_and_refresh(root, work / "after")
        print(
            f"compaction: {report.batches:,} batches into {len(report.buckets)} buckets,"
            f" {report.parts_written} parts written in {compact_s}; swept {len(swept):,} files"
            f" in {sweep_s}"
        )
        print(
            f"after compaction:  {after:,} files; recover {rec_a};"
            f" warehouse refresh + count {ref_a} ({rows_a:,} minute rows)"
        )
        expected = args.participants * args.days * args.minutes_per_day
        assert rows_a == expected and rows_b in (expected, -1), "compaction changed the rows"
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
