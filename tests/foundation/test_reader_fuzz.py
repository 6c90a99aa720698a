"""Seeded fuzz over every reader family (issue 15 tests): an outcome per file, nothing raised, no minute
outside the input's time span.

Real-shaped exports (Takeout JSON and CSV, Fitabase, Garmin JSON, FIT) are
damaged by seeded mutations: truncation, junk bytes, deleted and repeated
ranges, a byte-order mark, an emptied file, numbers replaced by impossible
ones. Junk is drawn from bytes that are not digits, so a mutation can destroy
a timestamp but never turn it into another valid one: every minute a reader
keeps must then lie within the span of the undamaged input. Bounded to about
a minute (``CASES_PER_FAMILY`` cases of each family).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from ingest.contract import Member, ReadContext, ReadResult
from ingest.fit.reader import read_fit
from ingest.fitbit import read_fitabase_export, read_fitbit_export
from ingest.garmin import read_garmin_export
from pipeline.demo.fit_files import write_monitoring_days
from pipeline.demo.fitbit_files import write_fitabase, write_takeout_csv, write_takeout_json
from pipeline.demo.garmin_files import demo_sessions_from_truth, garmin_export_members
from tests.fitbit.helpers import members_of_folder, worn_truth

SEED = 15
CASES_PER_FAMILY = 40
TZ = "Europe/Oslo"
JUNK = np.frombuffer(b'\x00\xff\xfe{}[],:"\\ \n\rxyz-+.eE\xef\xbb\xbf', dtype=np.uint8)
"""Bytes a mutation writes: structure and noise, never a digit."""
HUGE = [b"1e308", b"12345678901234567890", b"-1e400", b"NaN", b"-7"]


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    kind = rng.integers(0, 8)
    n = len(data)
    if n == 0 or kind == 0:
        return b""
    pos = int(rng.integers(0, n))
    if kind == 1:
        return data[:pos]
    if kind == 2:
        return data[:pos] + bytes(rng.choice(JUNK, int(rng.integers(1, 40)))) + data[pos:]
    if kind == 3:
        junk = bytes(rng.choice(JUNK, int(rng.integers(1, 20))))
        return data[:pos] + junk + data[pos + len(junk) :]
    if kind == 4:
        return data[:pos] + data[pos + int(rng.integers(1, 400)) :]
    if kind == 5:
        return b"\xef\xbb\xbf" + data
    if kind == 6:
        return data[:pos] + data[max(0, pos - 300) : pos] + data[pos:]  # a stretch written twice
    numbers = [m.span() for m in re.finditer(rb"(?<![\d/:.-])\d{1,4}(?![\d/:.-])", data)]
    if not numbers:
        return data
    out = bytearray(data)
    for k in sorted(rng.choice(len(numbers), min(3, len(numbers)), replace=False), reverse=True):
        a, b = numbers[int(k)]
        out[a:b] = HUGE[int(rng.integers(0, len(HUGE)))]
    return bytes(out)


@cache
def _truth() -> pl.DataFrame:
    return worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(7, 21), seed=11)


def _ctx() -> ReadContext:
    return ReadContext(
        participant_id="P01", file_id="f" * 64, path="export", timezone=TZ, zones={"P01": TZ}
    )


Family = tuple[list[Member], Callable[[list[Member]], dict[str, ReadResult]], Callable[[str], bool]]


@cache
def _family(name: str, folder: str) -> Family:
    root = Path(folder)
    truth = _truth()
    if name == "takeout_json":
        members = members_of_folder(write_takeout_json(truth, root, TZ))
        return members, lambda ms: read_fitbit_export(ms, _ctx()), lambda p: p.endswith(".json")
    if name == "takeout_csv":
        members = members_of_folder(write_takeout_csv(truth, root, TZ))
        return members, lambda ms: read_fitbit_export(ms, _ctx()), lambda p: p.endswith(".csv")
    if name == "fitabase":
        members = members_of_folder(write_fitabase({"1": truth}, root, {"1": TZ}))
        ctx = ReadContext(
            participant_id="P01",
            file_id="f" * 64,
            path="export",
            timezone=TZ,
            id_map={"1": "P01"},
            zones={"P01": TZ},
        )
        wanted = (
            "minuteIntensitiesNarrow",
            "minuteStepsNarrow",
            "heartrate_seconds",
            "dailyActivity",
        )
        return (
            members,
            lambda ms: read_fitabase_export(ms, ctx),
            lambda p: any(w in p for w in wanted),
        )
    if name == "garmin":
        built = garmin_export_members(
            truth, demo_sessions_from_truth(truth, min_minutes=1), {}, timezone=TZ
        )
        members = [Member(path, len(data), lambda d=data: d) for path, data in built.items()]  # type: ignore[misc]
        return (
            members,
            lambda ms: read_garmin_export(ms, _ctx()),
            lambda p: p.endswith(".json") and "user_profile" not in p,
        )
    raise AssertionError(name)


def _minutes(results: dict[str, ReadResult]) -> pl.DataFrame:
    tables = [
        r.tables["minutes"].select(["minute_utc"])
        for r in results.values()
        if "minutes" in r.tables
    ]
    return pl.from_arrow(pa.concat_tables(tables)) if tables else pl.DataFrame({"minute_utc": []})  # type: ignore[return-value]


@pytest.mark.parametrize("name", ["takeout_json", "takeout_csv", "fitabase", "garmin"])
def test_mutated_exports_give_an_outcome_per_file_and_no_minute_outside_the_span(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    members, read, recognised = _family(name, str(tmp_path_factory.mktemp(name)))
    clean = _minutes(read(members))
    first, last = clean["minute_utc"].min(), clean["minute_utc"].max()  # the undamaged input's span
    rng = np.random.default_rng(SEED)
    targets = [m for m in members if recognised(m.path)]
    assert targets
    statuses: dict[str, int] = {}
    for _ in range(CASES_PER_FAMILY):
        victim = targets[int(rng.integers(0, len(targets)))]
        damaged = _mutate(victim.load(), rng)
        case = [
            Member(m.path, len(damaged), lambda d=damaged: d) if m is victim else m for m in members
        ]  # type: ignore[misc]
        results = read(case)  # nothing may be raised
        for m in targets:
            assert m.path in results, f"no outcome for {m.path}"
            assert results[m.path].status in {"ok", "partial", "quarantined", "skipped"}
        got = results[victim.path].status
        statuses[got] = statuses.get(got, 0) + 1
        minutes = _minutes(results)
        if minutes.height:
            outside = minutes.filter((pl.col("minute_utc") < first) | (pl.col("minute_utc") > last))
            assert outside.height == 0, (
                f"{victim.path}: {outside.height} minutes outside the input's span"
            )
        others = [r.status for p, r in results.items() if p != victim.path and recognised(p)]
        assert "quarantined" not in others, "one file's damage quarantined a sibling"
    assert sum(statuses.values()) == CASES_PER_FAMILY


def test_mutated_fit_files_give_an_outcome_and_no_minute_outside_the_span(tmp_path: Path) -> None:
    truth = _truth()
    local_day = (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))).dt.date()
    day = truth.filter(local_day == truth.select(local_day.min()).item())
    (fit,) = write_monitoring_days(day, tmp_path, device_serial=3_900_000_015)
    data = fit.read_bytes()
    clean = pl.from_arrow(read_fit(data, _ctx()).tables["minutes"].select(["minute_utc"]))
    assert isinstance(clean, pl.DataFrame)
    first, last = clean["minute_utc"].min(), clean["minute_utc"].max()
    rng = np.random.default_rng(SEED)
    for _ in range(CASES_PER_FAMILY):
        kind = int(rng.integers(0, 2))
        pos = int(rng.integers(14, len(data)))
        damaged = data[:pos] if kind == 0 else data[:pos] + bytes(rng.choice(JUNK, 8)) + data[pos:]
        result = read_fit(damaged, _ctx())
        assert result.status in {"ok", "partial", "quarantined", "skipped"}
        if "minutes" in result.tables and result.tables["minutes"].num_rows:
            minutes = pl.from_arrow(result.tables["minutes"].select(["minute_utc"]))
            assert isinstance(minutes, pl.DataFrame)
            assert (
                minutes.filter(
                    (pl.col("minute_utc") < first) | (pl.col("minute_utc") > last)
                ).height
                == 0
            )
