"""Benchmark: Apple Health ``export.xml`` into canonical rows, speed and peak memory by size.

    python -m bench.apple_health [--sizes-mb 64,256] [--dir /tmp/irisin-apple-bench]

For each size a synthetic export is written to disk (a realistic mix: watch
heart rate every few minutes with a metadata child, watch and iPhone step
records, exercise minutes, and the energy/distance records irisin does not
read but must parse past, which dominate real exports), then read in a fresh
child process three ways:

* ``parse``: ``lxml`` iterparse over the wanted tags with cleared elements,
  doing nothing with the records (the floor of the safe path);
* ``safe``: ``ingest.apple.read_export_xml(..., fast=False)``, every byte
  through ``lxml`` into canonical minute, session and profile tables;
* ``read``: ``ingest.apple.read_export_xml`` as the pipeline calls it, with
  the checked fast path (``ingest.apple.fast_scan``); its tables are
  compared with ``safe``'s when both run (``equal`` column).

Each child first reads a small export once (imports and regex compilation are
not counted), then the file. Prints MB/s of export.xml by wall clock and by
the child's CPU time plus its reader workers' (column ``workers``; on a shared
machine the wall clock mostly measures the other processes), the load average, canonical rows, and the child's peak RSS above its start
(``ru_maxrss``) so that memory can be compared across sizes. Set
``POLARS_MAX_THREADS=1`` for single-core figures.
Target (issue 19): >= 100 MB/s into canonical rows, memory independent of size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.contract import ReadResult

WATCH = "&lt;&lt;HKDevice: 0x283f2&gt;, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.4&gt;"
IPHONE = "&lt;&lt;HKDevice: 0x283f1&gt;, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.4&gt;"


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S %z")


def write_export(path: Path, target_bytes: int, seed: int = 1) -> int:
    """Write a synthetic export.xml of about ``target_bytes``; returns its size."""
    rng = random.Random(seed)
    zone = timezone(timedelta(hours=1))
    t = datetime(2023, 1, 1, 7, 0, tzinfo=zone)
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Me,(Record|Workout)*)>\n'
            '<!ATTLIST HealthData locale CDATA #REQUIRED>\n]>\n<HealthData locale="en_GB">\n'
            ' <ExportDate value="2026-04-01 12:00:00 +0200"/>\n <Me HKCharacteristicTypeIdentifierDateOfBirth="1980-05-01"/>\n'
        )
        written = 0
        workouts: list[str] = []  # the Health app writes workouts after all records
        while written < target_bytes:
            lines = []
            for _ in range(200):
                t += timedelta(seconds=rng.randint(30, 120))
                s = _stamp(t)
                e = _stamp(t + timedelta(seconds=60))
                kind = rng.random()
                if kind < 0.25:
                    lines.append(
                        f' <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Jane’s Apple Watch" sourceVersion="10.4" device="{WATCH}" unit="count/min" creationDate="{s}" startDate="{s}" endDate="{s}" value="{rng.randint(55, 160)}">\n'
                        '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>\n </Record>\n'
                    )
                elif kind < 0.40:
                    lines.append(
                        f' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Jane’s Apple Watch" sourceVersion="10.4" device="{WATCH}" unit="count" creationDate="{e}" startDate="{s}" endDate="{e}" value="{rng.randint(0, 130)}"/>\n'
                    )
                elif kind < 0.50:
                    e10 = _stamp(t + timedelta(minutes=rng.randint(2, 10)))
                    lines.append(
                        f' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Jane’s iPhone" sourceVersion="17.4" device="{IPHONE}" unit="count" creationDate="{e10}" startDate="{s}" endDate="{e10}" value="{rng.randint(0, 900)}"/>\n'
                    )
                elif kind < 0.55:
                    lines.append(
                        f' <Record type="HKQuantityTypeIdentifierAppleExerciseTime" sourceName="Jane’s Apple Watch" sourceVersion="10.4" unit="min" creationDate="{e}" startDate="{s}" endDate="{e}" value="1"/>\n'
                    )
                elif kind < 0.85:
                    lines.append(
                        f' <Record type="HKQuantityTypeIdentifierActiveEnergyBurned" sourceName="Jane’s Apple Watch" sourceVersion="10.4" device="{WATCH}" unit="kcal" creationDate="{e}" startDate="{s}" endDate="{e}" value="{rng.random() * 5:.3f}"/>\n'
                    )
                else:
                    lines.append(
                        f' <Record type="HKQuantityTypeIdentifierDistanceWalkingRunning" sourceName="Jane’s iPhone" sourceVersion="17.4" device="{IPHONE}" unit="km" creationDate="{e}" startDate="{s}" endDate="{e}" value="{rng.random() / 10:.4f}"/>\n'
                    )
            if rng.random() < 0.02:
                w_end = t + timedelta(minutes=40)
                workouts.append(
                    f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="40" durationUnit="min" sourceName="Jane’s Apple Watch" startDate="{_stamp(t)}" endDate="{_stamp(w_end)}">\n'
                    f'  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate="{_stamp(t)}" endDate="{_stamp(w_end)}" average="150" minimum="90" maximum="172" unit="count/min"/>\n </Workout>\n'
                )
            block = "".join(lines)
            out.write(block)
            written += len(block.encode())
        out.write("".join(workouts))
        out.write("</HealthData>\n")
    return path.stat().st_size


def _digest(result: ReadResult) -> str:
    """A hash of the result's tables, to compare the two paths without passing the tables around."""
    import hashlib

    import pyarrow as pa

    h = hashlib.sha256()
    for name in sorted(result.tables):
        h.update(name.encode())
        for batch in result.tables[name].combine_chunks().to_batches(max_chunksize=1 << 16):
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as writer:
                writer.write_batch(batch)
            h.update(sink.getvalue())
    return h.hexdigest()[:16]


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the fast path's worker processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(mode: str, path: str) -> None:
    """Run one mode on one file in this (fresh) process and print a JSON line."""
    import io

    from ingest.apple import read_export_xml
    from ingest.contract import ReadContext
    from ingest.xml_safety import safe_iterparse

    ctx = ReadContext("P01", "0" * 64, path, timezone="Europe/Oslo")
    with open(path, "rb") as f:
        head = f.read(2_000_000)
    read_export_xml(io.BytesIO(head[: head.rfind(b"\n <Record")] + b"\n</HealthData>\n"), ctx)
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows, digest = 0, ""
    began, cpu, kids = time.perf_counter(), time.process_time(), _children_cpu()
    with open(path, "rb") as f:
        if mode == "parse":
            for _, el in safe_iterparse(
                f, events=("end",), tag=("Record", "Workout", "Me", "ExportDate")
            ):
                el.clear()
                parent = el.getparent()
                while el.getprevious() is not None:
                    del parent[0]
                rows += 1
        else:
            result = read_export_xml(f, ctx, fast=mode == "read")
            assert result.status == "ok", result.reason
            rows = sum(t.num_rows for t in result.tables.values())
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    workers = _children_cpu() - kids  # reader worker processes, reaped when the read ends
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the digest's own copies
    if mode != "parse":
        digest = _digest(result)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu + workers,
                "workers_cpu": workers,
                "rows": rows,
                "peak_kb": peak,
                "start_kb": start_rss,
                "digest": digest,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes-mb", default="64,256")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/irisin-apple-bench"))
    parser.add_argument("--modes", default="parse,safe,read")
    parser.add_argument("--keep", action="store_true", help="keep the generated exports")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(
        f"{'size':>9} {'mode':>6} {'seconds':>8} {'MB/s':>7} {'cpu s':>7} {'workers':>7} {'MB/cpu-s':>9}"
        f" {'rows':>11} {'peak RSS above start':>21} {'tables':>17}"
    )
    for size_mb in (int(s) for s in args.sizes_mb.split(",")):
        path = args.dir / f"export-{size_mb}MB.xml"
        if not path.exists() or abs(path.stat().st_size - size_mb * 1e6) > 2e6:
            write_export(path, size_mb * 1_000_000)
        mb = path.stat().st_size / 1e6
        digests = {}
        for mode in args.modes.split(","):
            out = (
                subprocess.run(
                    [sys.executable, "-m", "bench.apple_health", "--child", mode, str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            r = json.loads(out)
            above = (r["peak_kb"] - r["start_kb"]) / 1024
            digests[mode] = r["digest"]
            same = ""
            if mode == "read" and "safe" in digests:
                same = "equal to safe" if digests["safe"] == r["digest"] else "DIFFER from safe"
            print(
                f"{mb:>7.0f}MB {mode:>6} {r['seconds']:>8.2f} {mb / r['seconds']:>7.1f}"
                f" {r['cpu']:>7.2f} {r.get('workers_cpu', 0.0):>7.2f} {mb / r['cpu']:>9.1f} {r['rows']:>11,} {above:>18.0f} MB"
                f" {same:>17}",
                flush=True,
            )
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
        if not args.keep:
            path.unlink()


if __name__ == "__main__":
    main()
