"""Benchmark: ingest a two-year Garmin Connect export holding 500 activity FIT files.

    python -m bench.garmin_ingest [--days 730] [--activities 500] [--seed 7]

Generates one demo participant's two years of minute truth, one activity per
exercise day (the first ``--activities`` of them, each with its own activity
FIT file from ``pipeline.demo.fit_files``), writes the export zip with
``pipeline.demo.garmin_files`` (nested ``UploadedFiles_*.zip``, 200 FIT files
each), then ingests it end to end with ``ingest.pipeline.Ingestor`` into a
fresh study in a temporary folder: archive walk, hashing, FIT decoding,
Garmin JSON reading, manifest and Parquet writes.

Ingestion runs ``--repeat`` times (default 3), each into a fresh study, and
the fastest run is reported, so one-off import costs and a busy machine do
not decide the figure. Prints wall-clock seconds for generation and for
ingestion, the seconds spent inside the FIT reader (timed around the
pipeline's FIT call, so it covers FIT decoding and the FIT reader's table
building) and inside the Garmin JSON reader, and the share of ingestion spent
outside FIT decoding.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.demo.cohort import COHORT, truth_minutes
from pipeline.demo.garmin_files import (
    demo_sessions_from_truth,
    expected_sessions,
    write_garmin_export,
)

PARTICIPANT = next(p for p in COHORT if p.fmt == "garmin_export" and p.mvpa_minutes_per_week >= 150)
"""A demo participant exercising most days, so two years hold well over 500 activities."""


class MissingComponent(RuntimeError):
    """A part of irisin this benchmark needs is not installed yet."""


def _require(module: str, attr: str, what: str) -> Any:
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise MissingComponent(f"{what} ({module}.{attr}) is not available: {exc}") from None


def activity_fit_files(truth: pl.DataFrame, sessions: pl.DataFrame) -> dict[str, bytes]:
    """One activity FIT file per session, named like Garmin's uploads, from the FIT demo writer."""
    activity_bytes = _require("pipeline.demo.fit_files", "activity_bytes", "the FIT demo writer")
    return {
        f"demo_{key}.fit": activity_bytes(truth, start, end, sport)
        for key, start, end, sport in sessions.select(
            "session_key", "start_utc", "end_utc", "sport"
        ).iter_rows()
    }


@dataclass
class Stopwatch:
    """Accumulated wall-clock and CPU seconds, and calls, of a wrapped function."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: int = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.cpu_seconds += time.process_time() - start_cpu
                self.calls += 1

        return timed


@contextmanager
def timing(module: Any, attr: str) -> Iterator[Stopwatch]:
    """Time every call of ``module.attr`` while the block runs, then restore it."""
    watch = Stopwatch()
    original = getattr(module, attr)
    setattr(module, attr, watch.wrap(original))
    try:
        yield watch
    finally:
        setattr(module, attr, original)


def build_export(out: Path, days: int, activities: int, seed: int) -> tuple[Path, int]:
    """Write the benchmark export; return its path and the number of FIT files in it."""
    truth = truth_minutes(PARTICIPANT, seed, weeks=math.ceil(days / 7))
    sessions = demo_sessions_from_truth(truth)
    if sessions.height < activities:
        raise SystemExit(
            f"only {sessions.height} exercise days in {days} days; ask for fewer --activities"
        )
    step = sessions.height / activities
    sessions = sessions[[int(i * step) for i in range(activities)]]
    fit_files = activity_fit_files(truth, expected_sessions(truth, sessions))
    path = write_garmin_export(
        truth, sessions, fit_files, out / "garmin-connect-export.zip", timezone=PARTICIPANT.timezone
    )
    return path, len(fit_files)


def ingest_export(export: Path, study_root: Path) -> dict[str, Any]:
    """Ingest ``export`` into a new study; return timings and outcome counts."""
    pipeline = importlib.import_module("ingest.pipeline")
    _require("ingest.fit.reader", "read_fit", "the FIT reader")
    layout = importlib.import_module("config.layout")
    roster = importlib.import_module("config.roster")
    garmin = importlib.import_module("ingest.garmin")

    layout.init_study(study_root)
    roster.write_roster(
        pl.DataFrame(
            {"participant_id": [PARTICIPANT.participant_id], "timezone": [PARTICIPANT.timezone]}
        ),
        study_root / "roster.csv",
    )
    ingestor = pipeline.Ingestor(layout.open_study(study_root))
    with timing(pipeline, "_read_fit") as fit, timing(garmin, "read_garmin_export") as json_reader:
        start, start_cpu = time.perf_counter(), time.process_time()
        report = ingestor.ingest(PARTICIPANT.participant_id, [export])
        total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "total": total,
        "total_cpu": total_cpu,
        "fit": fit,
        "json": json_reader,
        "outcomes": report.counts(),
        "rows": {
            t: ingestor.lake.scan(t).select(pl.len()).collect().item()
            for t in ("minutes", "daily_totals", "sessions")
        },
    }


def _report(
    args: argparse.Namespace,
    n_fit: int,
    size_mb: float,
    generated: float,
    runs: list[dict[str, Any]],
) -> None:
    best = min(runs, key=lambda r: r["total"])
    total, fit, json_reader = best["total"], best["fit"], best["json"]
    outside = total - fit.seconds
    per_file_ms = 1000 * fit.seconds / max(fit.calls, 1)
    print(f"export: {args.days} days, {n_fit} activity FIT files, {size_mb:.1f} MB zip")
    print(f"generate export:              {generated:8.2f} s")
    seconds = ", ".join(f"{r['total']:.2f}" for r in runs)
    print(f"ingest runs (fresh study each): {seconds} s; best of {len(runs)}:")
    print(f"ingest end to end (pipeline): {total:8.2f} s")
    print(
        f"  inside FIT reader:          {fit.seconds:8.2f} s over {fit.calls} files ({per_file_ms:.1f} ms/file)"
    )
    print(f"  inside Garmin JSON reader:  {json_reader.seconds:8.2f} s")
    print(
        f"  outside FIT decoding:       {outside:8.2f} s = {100 * outside / total:.1f} % of ingest"
    )
    cpu_outside = best["total_cpu"] - fit.cpu_seconds
    print(
        f"process CPU seconds (all threads; steadier on a busy machine): ingest {best['total_cpu']:.2f}, "
        f"FIT reader {fit.cpu_seconds:.2f}, outside FIT {cpu_outside:.2f} "
        f"= {100 * cpu_outside / best['total_cpu']:.1f} %"
    )
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in best["rows"].items()))
    outcomes = sorted(best["outcomes"].items())
    print("files: " + ", ".join(f"{kind}/{status} {n}" for (kind, status), n in outcomes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730, help="days of data (default 730)")
    parser.add_argument(
        "--activities", type=int, default=500, help="activity FIT files (default 500)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="ingest runs; the best is reported (default 3)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="irisin-bench-garmin-") as tmp:
        root = Path(tmp)
        try:
            start = time.perf_counter()
            export, n_fit = build_export(root, args.days, args.activities, args.seed)
            generated = time.perf_counter() - start
            size_mb = export.stat().st_size / 1e6
            runs = [ingest_export(export, root / f"study{i}") for i in range(max(args.repeat, 1))]
        except MissingComponent as exc:
            print(f"bench.garmin_ingest cannot run: {exc}", file=sys.stderr)
            return 2
    _report(args, n_fit, size_mb, generated, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
