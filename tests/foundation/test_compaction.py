"""Lake compaction (issue 17 item 2): one part per bucket and month, the same rows before, during and after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from bench.lake_compaction import day_batch
from store.atomic import not_durable
from store.derived import DerivedStore
from store.lake import MANIFEST, Lake, bucket_folder, bucket_of
from store.verify import lake_damage
from store.warehouse import refresh_warehouse

REPO = Path(__file__).resolve().parents[2]
PIDS = [f"P{i:03d}" for i in range(24)]
FIRST = date(2025, 1, 29)  # six nights over a month boundary: January and February parts


def nights(lake: Lake, days: range, pids: list[str] = PIDS) -> None:
    """Nightly batches; not fsynced (what is under test is compaction, and a loaded disk makes fsync slow)."""
    with not_durable():
        for d in days:
            for pid in pids:
                lake.write_batch(day_batch(pid, FIRST + timedelta(days=d), minutes_per_day=6))


def rows(lake: Lake) -> dict[str, pl.DataFrame]:
    """Everything a reader sees, in a fixed order."""
    out = {}
    for table in ("minutes", "daily_totals"):
        frame = lake.scan(table).collect()
        out[table] = frame.sort(frame.columns)
    manifest = lake.manifest()
    out[MANIFEST] = manifest.sort(manifest.columns)
    out["batches"] = pl.DataFrame(lake.committed_batches(), orient="row")
    return out


def assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equals(b[name]), name


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def buckets_of(pids: list[str]) -> set[str]:
    return {bucket_folder(bucket_of(p)) for p in pids}


@pytest.fixture()
def lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    nights(lake, range(6))
    return lake


def test_compaction_keeps_every_row_and_leaves_one_part_per_bucket_and_month(
    lake: Lake, tmp_path: Path
) -> None:
    before = rows(lake)
    assert (
        before["minutes"].height == len(PIDS) * 6 * 6
        and len(files(tmp_path / "lake")) == len(PIDS) * 6 * 3
    )
    report = lake.compact(threshold=1)
    assert sorted(report.buckets) == sorted(buckets_of(PIDS)) and report.batches == len(PIDS) * 6
    assert_same(rows(lake), before)  # committed, not swept yet: the fresh parts no longer count
    assert_same(rows(Lake(tmp_path / "lake")), before)  # nor for a reader that opens the lake now
    swept = lake.sweep()
    assert len(swept) == len(PIDS) * 6 * 3
    assert_same(rows(Lake(tmp_path / "lake")), before)
    n = len(buckets_of(PIDS))
    left = files(tmp_path / "lake")
    # minutes and daily_totals: January and February per bucket, and one manifest part per bucket
    assert len(left) == n * (2 * 2 + 1)
    months = sorted({p.name.split("-", 1)[1] for p in left if p.parent.parent.name == "minutes"})
    assert months == ["2025-01.parquet", "2025-02.parquet"]
    assert Lake(tmp_path / "lake").recover() == []


def test_only_buckets_past_the_threshold_are_compacted(lake: Lake) -> None:
    per_bucket: dict[str, int] = {}
    for pid in PIDS:
        per_bucket[bucket_folder(bucket_of(pid))] = (
            per_bucket.get(bucket_folder(bucket_of(pid)), 0) + 6
        )
    assert min(per_bucket.values()) < max(per_bucket.values())  # some buckets hold two participants
    threshold = max(per_bucket.values())
    report = lake.compact(threshold=threshold)
    assert sorted(report.buckets) == sorted(b for b, n in per_bucket.items() if n >= threshold)
    assert 0 < len(report.buckets) < len(per_bucket)
    one = sorted(per_bucket)[0]
    assert lake.compact(threshold=1, buckets=[int(one.split("=")[1])]).buckets in ([one], [])


def test_a_second_compaction_rewrites_the_months_it_touches_and_keeps_the_others(
    lake: Lake, tmp_path: Path
) -> None:
    lake.compact(threshold=1)
    lake.sweep()
    january = {
        p for p in files(tmp_path / "lake") if p.name.endswith("2025-01.parquet")
    }  # the first three nights
    nights(lake, range(6, 9))  # three February nights more
    before = rows(lake)
    assert before["minutes"].height == len(PIDS) * 9 * 6
    lake.compact(threshold=1)
    lake.sweep()
    after = files(tmp_path / "lake")
    assert january <= set(after)  # January was not touched: its parts are the same files
    assert len(after) == len(buckets_of(PIDS)) * 5
    assert_same(rows(Lake(tmp_path / "lake")), before)


def test_batches_keep_their_identity_and_scan_batches_reads_them_from_the_generation(
    lake: Lake,
) -> None:
    batches = lake.committed_batches()
    wanted = [b for b in batches if b[0] in ("P003", "P017")][:5]
    expected = lake.scan_batches("minutes", wanted).collect().sort("file_id", "minute_utc")
    assert expected.height == 5 * 6
    lake.compact(threshold=1)
    lake.sweep()
    fresh = Lake(lake.root)
    assert fresh.committed_batches() == batches
    got = fresh.scan_batches("minutes", wanted).collect().sort("file_id", "minute_utc")
    assert got.equals(expected)
    assert fresh.scan("minutes", ["P003"]).collect()["participant_id"].unique().to_list() == [
        "P003"
    ]


def test_a_newer_version_of_a_compacted_file_replaces_its_rows(lake: Lake) -> None:
    lake.compact(threshold=1)
    lake.sweep()
    old = day_batch("P005", FIRST, minutes_per_day=6)
    new = day_batch("P005", FIRST, minutes_per_day=12)  # same logical path, other bytes
    new_manifest = new.manifest.set_column(
        0, "file_id", [["f" * 64]]
    )  # a new file id for the new bytes
    tables = {
        t: tab.set_column(
            tab.schema.get_field_index("file_id"), "file_id", [["f" * 64] * tab.num_rows]
        )
        for t, tab in new.tables.items()
    }
    later = new_manifest.column("ingested_at")[0].as_py() + timedelta(days=30)
    new_manifest = new_manifest.set_column(
        new_manifest.schema.get_field_index("ingested_at"),
        "ingested_at",
        [[later]],
    )
    lake.write_batch(type(new)("P005", tables, new_manifest))
    fresh = Lake(lake.root)
    fresh.recover()
    minutes = fresh.scan("minutes", ["P005"]).collect()
    old_id = old.manifest.column("file_id")[0].as_py()
    assert old_id not in minutes["file_id"].to_list()
    assert minutes.filter(pl.col("file_id") == "f" * 64).height == 12
    status = dict(fresh.manifest(["P005"]).select("file_id", "status").iter_rows())
    assert status[old_id] == "superseded" and status["f" * 64] == "ok"


def test_the_warehouse_lists_the_generations_and_shows_the_same_rows(
    lake: Lake, tmp_path: Path
) -> None:
    def counts(target: Path) -> tuple[int, int, list[str]]:
        con = duckdb.connect(str(target), read_only=True)
        try:
            m = con.execute("select count(*) from minutes").fetchone()
            f = con.execute("select count(*) from files").fetchone()
            cols = [d[0] for d in con.execute("select * from files limit 1").description]
        finally:
            con.close()
        assert m is not None and f is not None
        return int(m[0]), int(f[0]), cols

    before = counts(refresh_warehouse(lake, DerivedStore(tmp_path / "d"), tmp_path / "w1.duckdb"))
    lake.compact(threshold=1)
    lake.sweep()
    assert len(lake.committed_parts("minutes")) == len(buckets_of(PIDS)) * 2
    after = counts(refresh_warehouse(lake, DerivedStore(tmp_path / "d"), tmp_path / "w2.duckdb"))
    assert after == before == (len(PIDS) * 6 * 6, len(PIDS) * 6, after[2])
    assert "batch_id" not in after[2]


def test_recover_removes_a_part_no_generation_names_and_names_a_missing_one(
    lake: Lake, tmp_path: Path
) -> None:
    lake.compact(threshold=1)
    lake.sweep()
    (part,) = [
        p
        for p in files(tmp_path / "lake" / "minutes")
        if p.parent.name == bucket_folder(bucket_of("P000")) and p.name.endswith("2025-02.parquet")
    ]
    stray = part.with_name("g99999999999999999999-2025-03.parquet")
    stray.write_bytes(part.read_bytes())
    fresh = Lake(tmp_path / "lake")
    assert fresh.recover() == [str(stray)]
    assert fresh.damaged == []
    assert lake_damage(Lake(tmp_path / "lake")) == []
    other = next(p for p in files(tmp_path / "lake" / "daily_totals") if p != part)
    other.write_bytes(b"PAR1 overwritten")
    part.unlink()
    fresh = Lake(tmp_path / "lake")
    fresh.recover()
    assert [p for p, _ in fresh.damaged] == [str(part)]
    found = {(d.kind, d.path) for d in lake_damage(Lake(tmp_path / "lake"))}
    assert found == {("missing part", str(part)), ("lake part", str(other))}


KILLER = """
import os, signal, sys
from store.lake import Lake
import store.lake as lake_module

point, n = sys.argv[2], int(sys.argv[3])
calls = {"write": 0, "delete": 0}
lake = Lake(sys.argv[1])
real_write, real_delete = Lake._write_atomic, lake.fs.delete_file

def write(self, table, path):
    calls["write"] += 1
    if point == "write" and calls["write"] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    real_write(self, table, path)

class Deleting:
    def __getattr__(self, name):
        return getattr(fs, name)
    def delete_file(self, path):
        calls["delete"] += 1
        if point == "delete" and calls["delete"] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        fs.delete_file(path)

fs = lake.fs
Lake._write_atomic = write
lake.compact(1)
if point == "committed":
    os.kill(os.getpid(), signal.SIGKILL)
lake.fs = Deleting()
lake.sweep()
print("finished")
"""

KILL_POINTS = [
    ("write", 1),  # the first new part half-made: nothing committed
    ("write", 5),  # the first bucket's parts written, its commit not
    ("write", 8),  # one generation committed, the next one's parts half-written
    ("write", 10_000),  # never: every generation committed, then the sweep
    ("committed", 0),  # every generation committed, nothing swept
    ("delete", 7),  # in the middle of the sweep
]


@pytest.mark.parametrize(("point", "n"), KILL_POINTS)
def test_a_compaction_killed_anywhere_shows_the_same_rows_and_completes(
    lake: Lake, tmp_path: Path, point: str, n: int
) -> None:
    root = tmp_path / "lake"
    before = rows(lake)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(root), point, str(n)],
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    if n == 10_000:
        assert proc.returncode == 0 and b"finished" in proc.stdout, proc.stderr
    else:
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert_same(rows(Lake(root)), before)  # a reader, before any recovery
    recovered = Lake(root)
    recovered.recover()
    assert recovered.damaged == []
    assert_same(rows(recovered), before)
    recovered.compact(1)
    recovered.sweep()
    assert_same(rows(Lake(root)), before)
    assert len(files(root)) == len(buckets_of(PIDS)) * 5


def _retire_participant(lake: Lake, pid: str) -> pl.DataFrame:
    """Retire every live row of ``pid`` (what ``irisin forget --participant`` does); returns the rows it had."""
    before = lake.scan("minutes", [pid]).collect()
    live = lake.manifest([pid]).filter(pl.col("status") != "retired")
    assert lake.retire(live.select("participant_id", "batch_id", "file_id"), "test") > 0
    return before


def _history(lake: Lake, pid: str) -> pl.DataFrame:
    frame = lake.history("minutes", [pid]).collect()
    return frame.sort(frame.columns)


def test_rows_retired_before_a_compaction_stay_in_the_lake_marked_retired(
    lake: Lake, tmp_path: Path
) -> None:
    """Issue 12 item 2: the lake keeps its history; compaction carries retired rows with their mark."""
    before = _retire_participant(lake, "P003")
    others = Lake(lake.root).scan("minutes").collect().sort("participant_id", "minute_utc")
    assert before.height == 6 * 6

    lake.compact(threshold=1)
    lake.sweep()

    fresh = Lake(tmp_path / "lake")
    assert fresh.scan("minutes", ["P003"]).collect().height == 0
    assert fresh.scan("minutes").collect().sort("participant_id", "minute_utc").equals(others)
    kept = _history(fresh, "P003")
    assert kept["retired"].to_list() == [True] * before.height
    assert kept.drop("retired").equals(before.sort(before.columns))
    assert _history(fresh, "P004")["retired"].sum() == 0


def test_rows_retired_after_a_compaction_stay_out_and_stay_kept_through_the_next(
    lake: Lake, tmp_path: Path
) -> None:
    """Retired once compacted, then a compaction touching other months only, then one touching theirs."""
    lake.compact(threshold=1)
    lake.sweep()
    before = _retire_participant(Lake(lake.root), "P003")  # January and February rows
    expected = Lake(lake.root).scan("minutes").collect().sort("participant_id", "minute_utc")

    late = Lake(lake.root)
    with not_durable():
        late.write_batch(day_batch("P003", date(2025, 3, 5), minutes_per_day=6))  # March only
    late.compact(threshold=1)
    late.sweep()
    march = Lake(lake.root)
    assert march.scan("minutes", ["P003"]).collect()[
        "minute_utc"
    ].dt.month().unique().to_list() == [3]
    assert _history(march, "P003")["retired"].sum() == before.height

    nights(march, range(6, 7))  # February again: that month's part is rewritten
    march.compact(threshold=1)
    march.sweep()
    after = Lake(lake.root)
    assert after.scan("minutes", ["P003"]).collect()[
        "minute_utc"
    ].dt.month().unique().sort().to_list() == [2, 3]
    kept = _history(after, "P003").filter(pl.col("retired")).drop("retired")
    assert kept.equals(before.sort(before.columns))
    assert (
        after.scan("minutes")
        .collect()
        .filter(pl.col("participant_id") != "P003")
        .sort("participant_id", "minute_utc")
        .height
        == expected.filter(pl.col("participant_id") != "P003").height + (len(PIDS) - 1) * 6
    )


def _big_batches(lake: Lake, pids: list[str]) -> dict[tuple[str, str], list[Path]]:
    """A backfill-like batch per participant (a whole day of minutes); returns each batch's data parts."""
    with not_durable():
        for pid in pids:
            lake.write_batch(day_batch(pid, FIRST + timedelta(days=20), minutes_per_day=1440))
    root = Path(lake.root)
    big = {}
    for pid in pids:
        parts = sorted(root.glob(f"*/participant_id={pid}/*.parquet"))
        sizes = {p: p.stat().st_size for p in parts if p.parent.parent.name == "minutes"}
        largest = max(sizes, key=sizes.__getitem__)
        big[(pid, largest.stem)] = [p for p in parts if p.stem == largest.stem]
    return big


def test_a_large_fresh_batch_is_adopted_where_it_is_and_the_small_ones_rewritten(
    lake: Lake, tmp_path: Path
) -> None:
    """Compaction is for small files: a backfill's large batch keeps its parts, only its manifest rows move."""
    big = _big_batches(lake, ["P003", "P011"])
    adopt = min(
        p.stat().st_size for ps in big.values() for p in ps if p.parent.parent.name == "minutes"
    )
    small = max(
        p.stat().st_size
        for p in (tmp_path / "lake" / "minutes").rglob("*.parquet")
        if p.stem not in {b for _, b in big}
    )
    assert small < adopt
    data = {
        p: p.read_bytes() for ps in big.values() for p in ps if p.parent.parent.name != MANIFEST
    }
    before = rows(lake)

    report = lake.compact(threshold=1, adopt_bytes=adopt)
    assert report.adopted == 2 and report.batches == len(PIDS) * 6 + 2
    assert_same(rows(Lake(lake.root)), before)
    lake.sweep()
    assert {p: p.read_bytes() for p in data} == data  # the same files, untouched
    left = files(tmp_path / "lake")
    fresh_left = {p for p in left if p.parent.name.startswith("participant_id=")}
    assert fresh_left == set(data)  # their manifest parts are folded into the generations
    n = len(buckets_of(PIDS))
    assert len(left) == n * 5 + len(data)
    again = Lake(lake.root)
    assert again.recover() == [] and again.damaged == []
    assert_same(rows(again), before)
    assert again.scan("minutes", ["P011"]).collect().height == 6 * 6 + 1440
    assert again.scan("minutes", ["P004"]).collect()["participant_id"].unique().to_list() == [
        "P004"
    ]
    assert again.scan_batches("minutes", list(big)).collect().height == 2 * 1440

    nights(again, range(6, 8))  # later nights: the adopted parts are carried, not rewritten
    later = rows(again)
    again.compact(threshold=1, adopt_bytes=adopt)
    again.sweep()
    assert {p: p.read_bytes() for p in data} == data
    assert_same(rows(Lake(lake.root)), later)

    _retire_participant(Lake(lake.root), "P003")  # a retirement reaches into an adopted part
    gone = Lake(lake.root)
    assert gone.scan("minutes", ["P003"]).collect().height == 0
    assert _history(gone, "P003")["retired"].all()
    assert gone.scan("minutes", ["P011"]).collect().height == 8 * 6 + 1440
