"""Benchmark of the weekly table: irisin (polars) against a straightforward pandas baseline.

    python -m bench.weekly                         # 1,000 participants x 90 days
    python -m bench.weekly --days 365 --batch 25   # 1,000 x 365, 25 participants at a time
    python -m bench.weekly --participants 50 --days 14 --pandas-participants 50   # quick look

It generates N participants x D days of MINUTES rows (every minute of every
day, heart rate while worn, steps, device intensity, UTC offset; a fifth of the
participants also carry a second, fully overlapping phone source) as Parquet
files of 25 participants each in a temporary folder, then times in separate
processes, so that each reports its own peak memory:

* irisin: ``features.weekly.weekly_table`` over ``polars.scan_parquet`` of the
  files, end to end (read, classify, combine, localize, weekly), or with
  ``--batch`` ``features.weekly.weekly_table_in_batches`` (weeks never span
  participants, so batching is exact and bounds peak memory by one batch);
* pandas: the same rules written the obvious way (read, ``np.select``
  classification, ``groupby`` per participant and minute, ``tz_convert`` per
  zone, ``groupby`` per day and week) on the first ``--pandas-participants``
  participants, whose weekly table must equal irisin's.

Figures: rows, wall seconds, rows per second, CPU seconds (user + system; on
a shared machine wall time depends on the load, printed at the end), speed-up
(rows/s against rows/s, as the baseline runs on a subset, and wall/CPU on the
same subset), peak resident memory of each process, and a floor: a bare
streaming scan of the columns the rules read, which no implementation that
reads this Parquet with polars can beat.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from config.study import StudyConfig

START = datetime(2026, 1, 5)  # a Monday
ZONES = [
    "Europe/Oslo",
    "America/New_York",
    "America/Phoenix",
    "Australia/Brisbane",
    "Asia/Kolkata",
    "UTC",
]
ZONE_HOURS = [
    1,
    -5,
    -7,
    10,
    5.5,
    0,
]  # standard offsets, to place waking hours roughly in local time
FILE_PARTICIPANTS = 25
INTENSITY = ["sedentary", "light", "moderate", "vigorous"]


def participant_ids(n: int) -> list[str]:
    return [f"P{i:05d}" for i in range(n)]


def _levels_from_steps(steps: np.ndarray) -> np.ndarray:
    return np.select([steps >= 130, steps >= 100, steps > 0], [3, 2, 1], 0)


def generate_file(first: int, count: int, days: int, seed: int) -> pa.Table:
    """MINUTES rows of participants ``first .. first+count-1`` (vectorized, one file)."""
    from config.schema import MINUTES

    rng = np.random.default_rng(seed)
    per = days * 1440
    idx = np.repeat(np.arange(first, first + count), per)
    minute = np.tile(np.arange(per, dtype=np.int64), count)
    zone = idx % len(ZONES)
    local_hour = ((minute % 1440) / 60 + np.asarray(ZONE_HOURS)[zone]) % 24
    day_worn = rng.random(count * days) > 0.1  # about one day in ten not worn at all
    worn = (local_hour >= 7) & (local_hour < 23) & np.repeat(day_worn, 1440)
    # one walk a day: random start between 08:00 and 20:00 local, 0-45 minutes
    walk_start = rng.integers(8 * 60, 20 * 60, count * days)
    walk_len = rng.integers(0, 46, count * days)
    local_minute = (local_hour * 60).astype(np.int64)
    day = np.repeat(np.arange(count * days), 1440)
    walking = (
        worn & (local_minute >= walk_start[day]) & (local_minute < walk_start[day] + walk_len[day])
    )
    steps = np.where(
        walking,
        rng.integers(95, 140, idx.size),
        np.where(worn, rng.integers(0, 3, idx.size) * 8, 0),
    )
    hr = np.where(worn, np.where(walking, 120.0, 68.0) + rng.normal(0, 6, idx.size), np.nan).astype(
        np.float32
    )
    us = (np.datetime64(START, "us").astype(np.int64) + minute * 60_000_000).astype(
        "datetime64[us]"
    )
    offset = (np.asarray(ZONE_HOURS)[zone] * 60).astype(np.int16)
    columns = {
        "participant_id": _labels(idx - first, participant_ids(first + count)[first:]),
        "source": _constant("fit_monitoring", idx.size),
        "device": _constant("Garmin vivosmart 4", idx.size),
        "minute_utc": us,
        "utc_offset_minutes": offset,
        "steps": steps.astype(np.int32),
        "heart_rate_bpm": pa.array(hr, from_pandas=True),
        "intensity": _labels(_levels_from_steps(steps), INTENSITY),
        "file_id": _constant(f"{seed:064x}", idx.size),
    }
    tables = [_table(columns, MINUTES)]
    phone = (idx % 5) == 0  # a fifth also carry a phone covering the same minutes
    if phone.any():
        n = int(phone.sum())
        jitter = np.clip(steps[phone] + rng.integers(-6, 7, n), 0, None)
        second = {
            "participant_id": columns["participant_id"].filter(pa.array(phone)),
            "source": _constant("fitbit_takeout", n),
            "device": _constant("Fitbit app", n),
            "minute_utc": us[phone],
            "utc_offset_minutes": offset[phone],
            "steps": jitter.astype(np.int32),
            "intensity": _labels(_levels_from_steps(jitter), INTENSITY),
            "file_id": _constant(f"{seed + 10**9:064x}", n),
        }
        tables.append(_table(second, MINUTES))
    return pa.concat_tables(tables)


def _labels(codes: np.ndarray, names: list[str]) -> pa.Array:
    """Strings by code, built in Arrow (object arrays would dominate the generation time)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names)).cast(
        pa.string()
    )


def _constant(value: str, n: int) -> pa.Array:
    return _labels(np.zeros(n, np.int32), [value])


def _table(columns: dict, schema: pa.Schema) -> pa.Table:
    n = len(columns["participant_id"])
    arrays = []
    for f in schema:
        value = columns.get(f.name)
        if value is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(value, pa.Array):
            arrays.append(value.cast(f.type))
        else:
            arrays.append(pa.array(value, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def roster_rows(n: int) -> dict[str, list]:
    ids = participant_ids(n)
    return {
        "participant_id": ids,
        "timezone": [ZONES[i % len(ZONES)] for i in range(n)],
        "birth_year": [1960 + i % 40 for i in range(n)],
        "resting_hr": [None] * n,
        "max_hr": [None] * n,
        "start_date": [None] * n,
        "end_date": [None] * n,
    }


def generate(folder: Path, participants: int, days: int) -> int:
    """Write the minute files and roster.json; return the number of minute rows."""
    (folder / "minutes").mkdir(parents=True, exist_ok=True)
    rows = 0
    for first in range(0, participants, FILE_PARTICIPANTS):
        count = min(FILE_PARTICIPANTS, participants - first)
        table = generate_file(first, count, days, seed=first + 1)
        pq.write_table(
            table, folder / "minutes" / f"part-{first:05d}.parquet", row_group_size=1_000_000
        )
        rows += table.num_rows
    (folder / "roster.json").write_text(json.dumps(roster_rows(participants)))
    return rows


def _roster(folder: Path) -> pl.DataFrame:
    import polars as pl

    from config.roster import ROSTER_SCHEMA

    given = pl.DataFrame(json.loads((folder / "roster.json").read_text()))
    return given.select(
        (pl.col(c) if c in given.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in ROSTER_SCHEMA.items()
    )


def run_polars(folder: Path, batch: int | None, participants: int | None) -> dict:
    """Time irisin's weekly table from the Parquet files (child process)."""
    import polars as pl

    from config.schema import DAILY_TOTALS, PROFILES
    from config.study import StudyConfig
    from features.weekly import weekly_table, weekly_table_in_batches
    from models.weekly_status import with_status

    config = StudyConfig()
    roster = _roster(folder)
    ids = (
        roster["participant_id"].to_list()[:participants]
        if participants
        else roster["participant_id"].to_list()
    )
    empty_totals = pl.from_arrow(DAILY_TOTALS.empty_table()).lazy()  # type: ignore[union-attr]
    empty_profiles = pl.from_arrow(PROFILES.empty_table()).lazy()  # type: ignore[union-attr]
    started = time.perf_counter()
    scan = pl.scan_parquet(folder / "minutes" / "*.parquet")
    # Counted with the streaming engine: the in-memory one materializes the
    # participant column of every row to count them (10 GB at 1,000 x 365).
    counted_rows = scan.filter(pl.col("participant_id").is_in(ids)) if participants else scan
    rows = counted_rows.select(pl.len()).collect(engine="streaming").item()
    counted = time.perf_counter() - started
    started, cpu = time.perf_counter(), _cpu_seconds()
    minutes = scan.filter(pl.col("participant_id").is_in(ids)) if participants else scan
    args = (
        minutes,
        empty_totals,
        empty_profiles,
        roster.filter(pl.col("participant_id").is_in(ids)),
        config,
    )
    if batch:
        weekly = weekly_table_in_batches(*args, config_hash=config.hash(), batch_participants=batch)
    else:
        weekly = weekly_table(*args, config_hash=config.hash())
    weekly = with_status(weekly, config)  # the status derive scores (models), as the pipeline does
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    weekly.write_parquet(folder / "weekly_polars.parquet")
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "count_seconds": counted,
        "weeks": weekly.height,
        "peak_rss_gb": _peak_gb(),
    }


def run_scan(folder: Path) -> dict:
    """Time a bare streaming scan of the columns the rules read (child process): the decode floor."""
    import polars as pl

    from features.combine import RULE_COLUMNS

    scan = pl.scan_parquet(folder / "minutes" / "*.parquet")
    started, cpu = time.perf_counter(), _cpu_seconds()
    schema = scan.collect_schema()

    def touch(name: str) -> pl.Expr:
        """An aggregate that needs every value of the column decoded."""
        if schema[name] == pl.String:
            return pl.col(name).str.len_bytes().sum()
        if isinstance(schema[name], pl.Datetime):
            return pl.col(name).dt.epoch("s").sum()
        return pl.col(name).sum()

    touched = scan.select(*(touch(c) for c in RULE_COLUMNS), pl.len().alias("rows")).collect(
        engine="streaming"
    )
    return {
        "rows": int(touched["rows"][0]),
        "seconds": time.perf_counter() - started,
        "cpu_seconds": _cpu_seconds() - cpu,
        "peak_rss_gb": _peak_gb(),
    }


def run_pandas(folder: Path, participants: int) -> dict:
    """Time the pandas baseline on the first ``participants`` participants (child process)."""
    import pandas as pd

    from config.study import StudyConfig

    config = StudyConfig()
    roster = pd.DataFrame(json.loads((folder / "roster.json").read_text())).iloc[:participants]
    ids = set(roster["participant_id"])
    files = sorted((folder / "minutes").glob("*.parquet"))[: -(-participants // FILE_PARTICIPANTS)]
    started, cpu = time.perf_counter(), _cpu_seconds()
    weekly = pandas_weekly(files, ids, roster, config)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    weekly.to_parquet(folder / "weekly_pandas.parquet")
    return {
        "rows": int(weekly.attrs["rows"]),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "weeks": len(weekly),
        "peak_rss_gb": _peak_gb(),
    }


def pandas_wear(df: pd.DataFrame, config: StudyConfig) -> pd.Series:
    """The ``auto`` wear rule in pandas: heart rate present on a source's heart-rate days, else Choi 2011 on steps.

    Written the obvious way: per participant and source, the distinct minutes
    with a step count in order, runs of zero and non-zero steps by ``cumsum``,
    two-minute interruptions bridged between 30-minute zero runs, and quiet
    stretches of 90 minutes or more are non-wear.
    """
    import pandas as pd

    assert config.wear.rule == "auto", "the baseline implements the default rule only"
    w = config.wear
    has_hr = df["heart_rate_bpm"].fillna(0) > 0
    day = df["minute_utc"].dt.floor("D")
    heart_day = has_hr.groupby([df["participant_id"], df["source"], day]).transform("any")
    step_rows = df[~heart_day & df["steps"].notna()]
    minutes = (
        step_rows.groupby(["participant_id", "source", "minute_utc"], as_index=False)["steps"]
        .max()
        .sort_values(["participant_id", "source", "minute_utc"], ignore_index=True)
    )
    key = minutes["participant_id"] + "|" + minutes["source"]
    zero = minutes["steps"] <= 0
    new_run = (zero != zero.shift()) | (key != key.shift())
    minutes["run"] = new_run.cumsum()
    at = (minutes["minute_utc"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(minutes=1)
    runs = pd.DataFrame(
        {
            "key": key.groupby(minutes["run"]).first(),
            "zero": zero.groupby(minutes["run"]).first(),
            "first": at.groupby(minutes["run"]).first(),
            "last": at.groupby(minutes["run"]).last(),
        }
    )
    runs["span"] = runs["last"] - runs["first"] + 1

    def long_zero_neighbour(shift: int) -> pd.Series:
        return (
            (runs["key"] == runs["key"].shift(shift))
            & runs["zero"].shift(shift, fill_value=False)
            & (runs["span"].shift(shift, fill_value=0) >= w.step_interruption_window_minutes)
        )

    quiet = runs["zero"] | (
        (runs["span"] <= w.step_interruption_minutes)
        & long_zero_neighbour(1)
        & long_zero_neighbour(-1)
    )
    segment = (
        ~(quiet & quiet.shift(fill_value=False) & (runs["key"] == runs["key"].shift()))
    ).cumsum()
    span = (
        runs.groupby(segment)["last"].transform("max")
        - runs.groupby(segment)["first"].transform("min")
        + 1
    )
    runs["worn"] = ~(quiet & (span >= w.step_nonwear_minutes))
    minutes["worn"] = minutes["run"].map(runs["worn"])
    step_verdict = (
        step_rows[["participant_id", "source", "minute_utc"]]
        .merge(
            minutes[["participant_id", "source", "minute_utc", "worn"]],
            on=["participant_id", "source", "minute_utc"],
            how="left",
        )["worn"]
        .to_numpy()
    )
    worn = has_hr & heart_day
    worn.loc[step_rows.index] = step_verdict
    return worn.astype(bool)


def pandas_weekly(
    files: list[Path], ids: set[str], roster: pd.DataFrame, config: StudyConfig
) -> pd.DataFrame:
    """The weekly rules written plainly in pandas (no daily totals, no device profiles: as in the bench data).

    Heart-rate parameters (roster, else an estimate from the participant's
    minutes), plausibility limits, the ``auto`` wear rule and "MVPA is worn"
    follow ``features``; each UTC minute counts once at its highest level.
    """
    import pandas as pd

    cols = [
        "participant_id",
        "source",
        "minute_utc",
        "steps",
        "heart_rate_bpm",
        "intensity",
        "mets",
        "worn",
    ]
    df = pd.concat([pd.read_parquet(f, columns=cols) for f in files], ignore_index=True)
    df = df[df["participant_id"].isin(ids)]
    rows = len(df)
    trusted = config.intensity.source_precedence
    df = df[df["source"].isin(trusted)].copy()
    # Plausibility: impossible heart rates and step counts are ignored.
    hr_bad = (df["heart_rate_bpm"] > 220) | (
        (df["heart_rate_bpm"] > 0) & (df["heart_rate_bpm"] < 20)
    )
    df.loc[hr_bad, "heart_rate_bpm"] = np.nan
    df.loc[(df["steps"] > 300) | (df["steps"] < 0), "steps"] = np.nan
    people = roster.set_index("participant_id")
    i = config.intensity
    device = df["intensity"].map({"sedentary": 0, "light": 1, "moderate": 2, "vigorous": 3})
    # Resting HR: the roster's, else the 5th percentile ("nearest") of the participant's own
    # plausible minute heart rates when there are at least 600 of them.
    own = df[df["heart_rate_bpm"].between(20, 220)].groupby("participant_id")["heart_rate_bpm"]
    estimate = own.quantile(0.05, interpolation="nearest").where(own.size() >= 600)
    rest = df["participant_id"].map(people["resting_hr"]).astype(float)
    rest = rest.fillna(df["participant_id"].map(estimate).astype(float))
    max_hr = df["participant_id"].map(people["max_hr"]).astype(float)
    tanaka = 208 - 0.7 * (df["minute_utc"].dt.year - df["participant_id"].map(people["birth_year"]))
    max_hr = max_hr.fillna(tanaka)
    hrr = 100 * (df["heart_rate_bpm"] - rest) / (max_hr - rest)
    hrr = hrr.where((df["heart_rate_bpm"] > 0) & (max_hr > rest))

    def cut(value: pd.Series, moderate: float, vigorous: float) -> pd.Series:
        out = pd.Series(
            np.select([value >= vigorous, value >= moderate], [3, 2], 1),
            index=value.index,
            dtype=float,
        )
        return out.where(value.notna())

    by_method = {
        "device": device,
        "heart_rate": cut(hrr, i.hrr_moderate_percent, i.hrr_vigorous_percent),
        "cadence": cut(
            df["steps"].where(df["steps"] <= 210),
            i.cadence_moderate_steps_per_minute,
            i.cadence_vigorous_steps_per_minute,
        ),
        "mets": cut(df["mets"], i.mets_moderate, i.mets_vigorous),
    }
    level = pd.Series(np.nan, index=df.index)
    for m in reversed(i.methods):
        level = by_method[m].where(by_method[m].notna(), level)
    df = df.assign(level=level, worn_by_rule=pandas_wear(df, config))
    df["worn_by_rule"] |= df["level"] >= 2  # a moderate or vigorous minute is worn
    per_minute = df.groupby(["participant_id", "minute_utc"], as_index=False).agg(
        level=("level", "max"), worn=("worn_by_rule", "any")
    )
    parts = []
    for zone, members in people.groupby("timezone"):
        part = per_minute[per_minute["participant_id"].isin(members.index)].copy()
        part["local_date"] = part["minute_utc"].dt.tz_convert(zone).dt.date
        parts.append(part)
    local = pd.concat(parts)
    daily = local.groupby(["participant_id", "local_date"], as_index=False).agg(
        moderate_minutes=("level", lambda s: int((s == 2).sum())),
        vigorous_minutes=("level", lambda s: int((s == 3).sum())),
        wear_minutes=("worn", "sum"),
    )
    daily["week_start"] = pd.to_datetime(daily["local_date"]) - pd.to_timedelta(
        pd.to_datetime(daily["local_date"]).dt.weekday, unit="D"
    )
    daily["valid"] = daily["wear_minutes"] >= config.wear.min_wear_minutes_per_day
    weekly = daily.groupby(["participant_id", "week_start"], as_index=False).agg(
        moderate_minutes=("moderate_minutes", "sum"),
        vigorous_minutes=("vigorous_minutes", "sum"),
        wear_minutes=("wear_minutes", "sum"),
        valid_days=("valid", "sum"),
    )
    weekly["mvpa_minutes"] = weekly["moderate_minutes"] + weekly["vigorous_minutes"]
    weekly["status"] = np.where(
        weekly["valid_days"] < config.wear.min_valid_days_per_week,
        "insufficient",
        np.where(
            weekly["mvpa_minutes"] >= config.scoring.threshold_minutes_per_week, "met", "below"
        ),
    )
    weekly["week_start"] = weekly["week_start"].dt.date
    weekly.attrs["rows"] = rows
    return weekly


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.weekly", *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"bench child {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _same_tables(folder: Path, participants: int) -> bool:
    import polars as pl

    cols = ["participant_id", "week_start", "moderate_minutes", "vigorous_minutes", "mvpa_minutes"]
    cols += ["wear_minutes", "valid_days", "status"]
    ours = pl.read_parquet(folder / "weekly_polars.parquet").select(cols)
    ours = ours.filter(pl.col("participant_id").is_in(participant_ids(participants)))
    theirs = pl.read_parquet(folder / "weekly_pandas.parquet").select(cols)
    theirs = theirs.with_columns(pl.col(c).cast(ours.schema[c]) for c in cols).sort(
        "participant_id", "week_start"
    )
    return ours.sort("participant_id", "week_start").equals(theirs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.weekly", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--pandas-participants", type=int, default=50, help="baseline subset (0 to skip)"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="participants per batch (streaming mode)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="reuse/keep data in this folder")
    parser.add_argument("--child", choices=["polars", "pandas", "scan"], help=argparse.SUPPRESS)
    parser.add_argument("--subset", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "polars":
        print(json.dumps(run_polars(args.dir, args.batch, args.subset)))
        return
    if args.child == "pandas":
        print(json.dumps(run_pandas(args.dir, args.subset)))
        return
    if args.child == "scan":
        print(json.dumps(run_scan(args.dir)))
        return

    folder = args.dir or Path(tempfile.mkdtemp(prefix="irisin-bench-"))
    try:
        if not (folder / "roster.json").exists():
            started = time.perf_counter()
            rows = generate(folder, args.participants, args.days)
            size = sum(f.stat().st_size for f in (folder / "minutes").glob("*.parquet")) / 1e9
            print(
                f"generated {rows:,} minute rows ({args.participants} x {args.days} days, "
                f"{size:.2f} GB Parquet) in {time.perf_counter() - started:.1f} s -> {folder}"
            )
        common = ["--dir", str(folder)]
        ours = _child(
            ["--child", "polars", *common, *(["--batch", str(args.batch)] if args.batch else [])]
        )
        rate = ours["rows"] / ours["seconds"]
        print(
            f"irisin  : {ours['rows']:,} rows in {ours['seconds']:.2f} s = {rate / 1e6:.1f} M rows/s "
            f"(CPU {ours['cpu_seconds']:.1f} s = {ours['rows'] / ours['cpu_seconds'] / 1e6:.1f} M rows per CPU-second), "
            f"{ours['weeks']:,} weeks, peak RSS {ours['peak_rss_gb']:.2f} GB"
            + (f" (batches of {args.batch})" if args.batch else "")
        )
        floor = _child(["--child", "scan", *common])
        print(
            f"floor   : a bare scan of the columns the rules read takes "
            f"{floor['seconds']:.2f} s = {floor['rows'] / floor['seconds'] / 1e6:.1f} M rows/s "
            f"(CPU {floor['cpu_seconds']:.1f} s); irisin spends {ours['cpu_seconds'] / floor['cpu_seconds']:.1f}x its CPU"
        )
        if args.pandas_participants:
            k = min(args.pandas_participants, args.participants)
            base = _child(["--child", "pandas", *common, "--subset", str(k)])
            sub = _child(["--child", "polars", *common, "--subset", str(k)])
            base_rate = base["rows"] / base["seconds"]
            print(
                f"pandas  : {base['rows']:,} rows ({k} participants) in {base['seconds']:.2f} s = "
                f"{base_rate / 1e6:.2f} M rows/s (CPU {base['cpu_seconds']:.1f} s), "
                f"peak RSS {base['peak_rss_gb']:.2f} GB"
            )
            print(
                f"irisin on the same {k} participants: {sub['seconds']:.2f} s (CPU {sub['cpu_seconds']:.1f} s); "
                f"weekly tables equal: {_same_tables(folder, k)}"
            )
            print(
                f"speed-up: {rate / base_rate:.1f}x (full-run rows/s over pandas rows/s), "
                f"{base['seconds'] / sub['seconds']:.1f}x wall and "
                f"{base['cpu_seconds'] / sub['cpu_seconds']:.1f}x CPU on the same subset"
            )
        print(f"load average (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} cores")
        print(
            "targets: >= 5 M rows/s for 1000 x 90 days; >= 13x pandas; 1000 x 365 days under 8 GB peak"
        )
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
