"""The store on object storage against the store on disk: the same demo backfill, nightly and refresh, side by side.

    python -m bench.s3_store                       # the whole demo study
    python -m bench.s3_store --participants 3      # the first N demo participants

Starts a ``moto`` S3 server in its own process on 127.0.0.1 (so its CPU is
not counted as irisin's), generates the demo study twice, points one copy's
``[store] url`` at the server, and runs on each: a backfill, a nightly with
nothing new, and a warehouse refresh alone. Prints wall and CPU seconds of
this process for each step, the objects and bytes on S3, and whether every
warehouse table is equal. moto keeps objects in memory and answers on
loopback, so the figures show irisin's own cost of talking to object storage
(requests, copies into the warehouse), not a real network's latency.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_process() -> Iterator[str]:
    """A moto S3 server in a child process; yields its endpoint URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def timed(step: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.s3_store", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--participants", type=int, default=0, help="first N demo participants")
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "240")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    import boto3
    import duckdb
    from prefect import flow

    from config import open_study
    from flows.backfill import backfill_flow
    from flows.nightly import nightly_flow
    from pipeline.demo.cohort import COHORT
    from pipeline.demo.generate import generate_demo
    from pipeline.jobs import publish

    @flow(name="bench-warm-up", persist_result=False)
    def warm_up() -> None:
        """Nothing: the first flow run starts the API."""

    cohort = COHORT[: args.participants] if args.participants else COHORT
    work = Path(tempfile.mkdtemp(prefix="irisin-bench-s3-"))
    try:
        with moto_process() as endpoint:
            os.environ.update(
                AWS_ENDPOINT_URL=endpoint,
                AWS_ACCESS_KEY_ID="bench",
                AWS_SECRET_ACCESS_KEY="bench",
                AWS_REGION="us-east-1",
            )
            boto3.client("s3").create_bucket(Bucket="irisin-bench")
            local = generate_demo(work / "local", cohort=cohort).root
            remote = work / "remote"
            shutil.copytree(local, remote)
            toml = remote / "study.toml"
            toml.write_text(
                toml.read_text().replace("\n[store]\n", '\n[store]\nurl = "s3://irisin-bench/s"\n'),
                encoding="utf-8",
            )
            warm_up()  # start Prefect's ephemeral API first (not counted)
            rows: dict[str, dict[str, tuple[float, float]]] = {}
            for name, root in (("disk", local), ("s3", remote)):
                study = str(root)
                rows[name] = {
                    "backfill": timed(partial(backfill_flow, study, show_progress=False)),
                    "quiet nightly": timed(partial(nightly_flow, study)),
                    "warehouse refresh": timed(partial(publish, open_study(root))),
                }
            objects = [
                o
                for page in boto3.client("s3")
                .get_paginator("list_objects_v2")
                .paginate(Bucket="irisin-bench")
                for o in page.get("Contents", [])
            ]
            equal = []
            for table in ("minutes", "daily_totals", "files", "weekly", "daily", "hourly_wear"):
                got = []
                for root in (local, remote):
                    con = duckdb.connect(str(root / "store" / "warehouse.duckdb"), read_only=True)
                    try:
                        skip = " EXCLUDE (ingested_at, path)" if table == "files" else ""
                        got.append(con.execute(f"SELECT *{skip} FROM {table} ORDER BY ALL").pl())
                    finally:
                        con.close()
                equal.append(f"{table} {'equal' if got[0].equals(got[1]) else 'DIFFERENT'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"demo participants: {len(cohort)}")
    print(f"{'step':<20}{'disk wall':>11}{'disk CPU':>10}{'S3 wall':>10}{'S3 CPU':>9}")
    for step in rows["disk"]:
        (dw, dc), (sw, sc) = rows["disk"][step], rows["s3"][step]
        print(f"{step:<20}{dw:>10.2f}s{dc:>9.2f}s{sw:>9.2f}s{sc:>8.2f}s")
    print(
        f"objects on S3: {len(objects)}, {sum(o['Size'] for o in objects) / 1e6:.1f} MB "
        f"(lake {sum(1 for o in objects if '/lake/' in o['Key'])})"
    )
    print("warehouse tables: " + ", ".join(equal))


if __name__ == "__main__":
    main()
