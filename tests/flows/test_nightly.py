"""The nightly flow on the demo study: truth, idempotence, incremental weeks, quarantine, retries."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import ingest.pipeline
from flows.nightly import nightly_flow
from ingest.contract import TransientInputError
from pipeline.jobs import lake_of
from tests.flows.conftest import DemoCopy, export_columns, warehouse_tables, weekly_of
from tests.notes_state import assert_notes_state_matches_lake

NEW_DAY = date(
    2026, 5, 4
)  # the Monday after every demo participant's last UTC week (P13, in Los Angeles on a UTC roster, reaches 2026-04-27)
"""The Monday after the demo's eight weeks: a new day opens a new week."""

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows


def raw_files(root: Path) -> int:
    return sum(1 for p in (root / "inbox").rglob("*") if p.is_file())


def write_new_fit_day(root: Path, participant_id: str, day: date) -> tuple[Path, pl.DataFrame]:
    """Write one more day of monitoring FIT data for a demo FIT participant; returns the file and its truth."""
    from pipeline.demo.cohort import COHORT, STUDY_START, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days
    from pipeline.demo.generate import DEFAULT_SEED

    p = next(p for p in COHORT if p.participant_id == participant_id)
    truth = truth_minutes(p, DEFAULT_SEED, weeks=(day - STUDY_START).days // 7 + 2)
    local_day = (pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))).dt.date()
    day_truth = truth.filter(local_day == day)
    assert day_truth.height > 0
    folder = root / "inbox" / participant_id / f"sync-{day.isoformat()}"
    paths = write_monitoring_days(
        day_truth, folder, device_serial=3_900_000_000 + int(participant_id[1:])
    )
    assert len(paths) == 1
    return paths[0], day_truth


def test_nightly_on_the_demo_equals_the_generator_truth(
    nightly_template: tuple[DemoCopy, dict[str, Any]],
) -> None:
    demo, result = nightly_template
    assert export_columns(weekly_of(demo.root)).equals(export_columns(demo.expected_weekly))
    assert export_columns(warehouse_tables(demo.root)["weekly"]).equals(
        export_columns(demo.expected_weekly)
    )
    assert result["files"]["new"] >= raw_files(demo.root)  # archives count their members too
    assert result["files"]["quarantined"] == 0 and result["files"]["failed"] == 0
    assert result["full_recompute"] is True
    info = json.loads(Path(result["run_info"]).read_text())
    assert info["flow"] == "nightly" and info["status"] == result["status"]
    assert "**Week of" in result["summary"]


def test_a_second_nightly_changes_nothing(after_nightly: DemoCopy) -> None:
    derived = after_nightly.root / "store" / "derived"
    before = {
        p.name: p.stat().st_mtime_ns
        for p in derived.glob("*.parquet")
        if p.stem not in ("runs", "roster")
    }
    weekly_before = weekly_of(after_nightly.root)
    manifest_before = lake_of_manifest(after_nightly.root)

    result = nightly_flow(str(after_nightly.root))

    assert result["files"]["new"] == 0
    assert result["files"]["seen"] == raw_files(after_nightly.root)
    assert result["touched"] == []
    assert weekly_of(after_nightly.root).equals(weekly_before)
    assert lake_of_manifest(after_nightly.root).equals(manifest_before)
    after = {
        p.name: p.stat().st_mtime_ns
        for p in derived.glob("*.parquet")
        if p.stem not in ("runs", "roster")
    }
    assert after == before, "a run with nothing new must not rewrite derived tables"
    assert "new 0" in result["summary"]


outer_path = pl.col("path").str.split("!/").list.first()
"""The file a manifest row came from (loose files are recorded as ``file!/name``)."""


def lake_of_manifest(root: Path) -> pl.DataFrame:
    from config import open_study

    return lake_of(open_study(root)).manifest().sort("file_id", "participant_id")


def test_one_new_day_recomputes_only_that_participants_week(after_nightly: DemoCopy) -> None:
    before = weekly_of(after_nightly.root)
    _, day_truth = write_new_fit_day(after_nightly.root, "P01", NEW_DAY)

    result = nightly_flow(str(after_nightly.root))

    assert result["files"]["new"] == 1
    assert result["touched"] == [{"participant_id": "P01", "week_start": NEW_DAY.isoformat()}]
    assert result["full_recompute"] is False
    after = weekly_of(after_nightly.root)
    assert after.filter(pl.col("week_start") < NEW_DAY).equals(
        before.filter(pl.col("week_start") < NEW_DAY)
    )
    new_rows = after.filter(pl.col("week_start") == NEW_DAY)
    assert new_rows["participant_id"].to_list() == ["P01"]
    expected_mvpa = day_truth.filter(pl.col("intensity").is_in(["moderate", "vigorous"])).height
    assert new_rows["mvpa_minutes"].to_list() == [expected_mvpa]
    assert new_rows["wear_minutes"].to_list() == [day_truth.height]
    assert_incremental_equals_full(after_nightly.root)


def test_new_days_weeks_apart_are_read_back_whole(after_nightly: DemoCopy) -> None:
    """Two participants' new days two weeks apart: the rows read for the recompute span both weeks."""
    later = NEW_DAY + timedelta(days=14)
    write_new_fit_day(after_nightly.root, "P01", NEW_DAY)
    _, later_truth = write_new_fit_day(after_nightly.root, "P03", later)

    result = nightly_flow(str(after_nightly.root))

    assert result["files"]["new"] == 2 and result["full_recompute"] is False
    assert result["touched"] == [
        {"participant_id": "P01", "week_start": NEW_DAY.isoformat()},
        {"participant_id": "P03", "week_start": later.isoformat()},
    ]
    p03 = weekly_of(after_nightly.root).filter(
        (pl.col("participant_id") == "P03") & (pl.col("week_start") == later)
    )
    assert p03["wear_minutes"].to_list() == [later_truth.height]
    assert_incremental_equals_full(after_nightly.root)


def test_a_run_that_stopped_after_ingest_is_completed_by_the_next(after_nightly: DemoCopy) -> None:
    """Files ingested by a run that died before deriving: the next nightly has no new file,
    yet recomputes their weeks, because the derived tables record which lake batches they include."""
    from config import open_study
    from pipeline.jobs import inbox_items, ingest_item

    path, day_truth = write_new_fit_day(after_nightly.root, "P01", NEW_DAY)
    study = open_study(after_nightly.root)
    (item,) = [i for i in inbox_items(study, ["P01"]) if i.path == path]
    ingest_item(study, item)  # the crashed run got this far
    assert NEW_DAY not in weekly_of(after_nightly.root)["week_start"].to_list()

    result = nightly_flow(str(after_nightly.root))

    assert result["files"]["new"] == 0
    assert result["full_recompute"] is False
    new_rows = weekly_of(after_nightly.root).filter(pl.col("week_start") == NEW_DAY)
    assert new_rows["participant_id"].to_list() == ["P01"]
    assert new_rows["wear_minutes"].to_list() == [day_truth.height]
    assert_incremental_equals_full(after_nightly.root)
    settled = weekly_of(after_nightly.root)
    again = nightly_flow(str(after_nightly.root))
    assert again["files"]["new"] == 0 and again["touched"] == []
    assert weekly_of(after_nightly.root).equals(settled)


def assert_incremental_equals_full(root: Path) -> None:
    """The derived tables an incremental run left equal a full recompute from the lake."""
    from config import open_study
    from pipeline.jobs import derive, derived_of

    keys = {
        "weekly": ["participant_id", "week_start"],
        "daily": ["participant_id", "local_date"],
        "hourly_wear": ["participant_id", "local_date", "hour"],
    }
    study = open_study(root)
    assert_notes_state_matches_lake(root)
    incremental = {name: derived_of(study).read(name) for name in keys}
    derive(study, None)
    for name, key in keys.items():
        full = derived_of(study).read(name)
        assert full is not None and incremental[name] is not None
        assert incremental[name].sort(key).equals(full.sort(key)), (
            f"incremental {name} differs from a full recompute"
        )


def test_a_corrupt_file_is_quarantined_and_the_rest_lands(after_nightly: DemoCopy) -> None:
    good, _ = write_new_fit_day(after_nightly.root, "P02", NEW_DAY)
    bad = good.parent / "2026-04-28.fit"
    bad.write_bytes(b"\x0e\x10\x00\x00" + b"not a FIT file at all " * 20)

    state = nightly_flow(str(after_nightly.root), return_state=True)

    assert state.is_completed()
    assert "1 quarantined" in (state.message or "")
    result = state.result()
    assert result["status"] == "completed_with_warnings"
    assert result["files"]["new"] == 2 and result["files"]["quarantined"] == 1
    assert result["touched"] == [{"participant_id": "P02", "week_start": NEW_DAY.isoformat()}]
    manifest = lake_of_manifest(after_nightly.root)
    row = manifest.filter(outer_path == str(bad))
    assert row["status"].to_list() == ["quarantined"] and row["reason"][0]
    assert manifest.filter(outer_path == str(good))["status"].to_list() == ["ok"]
    assert list((after_nightly.root / "store" / "quarantine").rglob("*")), (
        "the refused bytes are kept for inspection"
    )
    assert "quarantined" in result["summary"] and "2026-04-28.fit" in result["summary"]


def test_a_transient_error_is_retried(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.nightly

    good, _ = write_new_fit_day(after_nightly.root, "P03", NEW_DAY)
    calls: list[Path] = []
    real = ingest.pipeline.read_regular

    def flaky(path: Path, **kwargs: Any) -> bytes:
        calls.append(path)
        if len(calls) == 1:
            raise TransientInputError(f"{path}: locked by the sync client")
        return real(path, **kwargs)

    monkeypatch.setattr(ingest.pipeline, "read_regular", flaky)
    monkeypatch.setattr(
        flows.nightly,
        "ingest_shard",
        flows.nightly.ingest_shard.with_options(retry_delay_seconds=0),
    )

    result = nightly_flow(str(after_nightly.root))

    assert calls == [good, good]
    assert result["status"] == "completed" and result["files"]["ok"] == 1
    assert result["touched"] == [{"participant_id": "P03", "week_start": NEW_DAY.isoformat()}]


def test_a_file_that_stays_unreadable_is_reported_and_left_for_the_next_run(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.nightly

    good, _ = write_new_fit_day(after_nightly.root, "P03", NEW_DAY)
    calls: list[Path] = []

    def locked(path: Path, **kwargs: Any) -> bytes:
        calls.append(path)
        raise PermissionError(f"{path}: locked")

    monkeypatch.setattr(ingest.pipeline, "read_regular", locked)
    monkeypatch.setattr(
        flows.nightly,
        "ingest_shard",
        flows.nightly.ingest_shard.with_options(retry_delay_seconds=0),
    )

    state = nightly_flow(str(after_nightly.root), return_state=True)

    assert state.is_completed() and "1 failed" in (state.message or "")
    assert len(calls) == 1 + len(flows.tasks.RETRY_DELAYS_SECONDS)
    result = state.result()
    assert result["files"]["failed"] == 1 and str(good) in result["summary"]
    assert lake_of_manifest(after_nightly.root).filter(outer_path == str(good)).height == 0

    monkeypatch.undo()
    again = nightly_flow(str(after_nightly.root))
    assert again["files"]["new"] == 1 and again["files"]["ok"] == 1


def test_a_corrupt_file_is_not_retried(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Corrupt bytes are a terminal outcome: one read, one quarantine row, no retry."""
    bad = after_nightly.root / "inbox" / "P01" / "garmin-sync" / "broken.fit"
    bad.write_bytes(b"\x00" * 64)
    calls: list[bytes] = []
    real = ingest.pipeline.read_fits_guarded  # FIT files are read in batches (ingest.parallel)

    def counting(jobs: Any) -> Any:
        calls.extend(data for data, _ctx in jobs)
        return real(jobs)

    monkeypatch.setattr(ingest.pipeline, "read_fits_guarded", counting)
    result = nightly_flow(str(after_nightly.root))
    assert calls == [bad.read_bytes()]
    assert result["files"]["quarantined"] == 1


def test_the_new_week_is_dated_after_the_demo(demo_template: DemoCopy) -> None:
    """Guards the premise of the incremental tests: NEW_DAY starts a week the demo has no data for."""
    assert NEW_DAY.weekday() == 0
    assert demo_template.expected_weekly["week_start"].max() == NEW_DAY - timedelta(days=7)


def test_a_participant_with_nothing_readable_needs_attention(after_nightly: DemoCopy) -> None:
    drop = after_nightly.root / "inbox" / "P02" / "phone-photos"
    drop.mkdir()
    (drop / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff not an export 1")
    (drop / "IMG_0002.jpg").write_bytes(b"\xff\xd8\xff not an export 2")

    result = nightly_flow(str(after_nightly.root))

    assert result["files"]["new"] == 2 and result["files"]["skipped"] == 2
    reasons = {
        r["participant_id"]: r["reason"]
        for r in result["attention"]
        if "nothing readable" in r["reason"]
    }
    assert set(reasons) == {"P02"}
    assert str(drop) in reasons["P02"] and "not a file irisin reads" in reasons["P02"]
    assert result["status"] == "completed_with_warnings"
    assert result["intake_warning"] == "nothing readable for P02: see Needs attention"
    assert "nothing readable in" in result["summary"]


def test_an_unrostered_participant_is_held_then_scored_once_added(after_nightly: DemoCopy) -> None:
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days

    newcomer = DemoParticipant("P98", "Europe/Oslo", 1980, 58, 182, "fit", 150)
    write_monitoring_days(
        truth_minutes(newcomer, 7),
        after_nightly.root / "inbox" / "P98",
        device_serial=3_912_345_678,
    )
    typo = after_nightly.root / "inbox" / "p01"
    typo.mkdir()
    (typo / "notes.txt").write_text("typo folder")

    held = nightly_flow(str(after_nightly.root))

    reasons = {
        r["participant_id"]: r["reason"]
        for r in held["attention"]
        if "nothing readable" in r["reason"]
    }
    assert "'P98' not in roster.csv" in reasons["P98"]
    assert "'p01' not in roster.csv; did you mean P01?" in reasons["p01"]
    assert "P98" not in set(weekly_of(after_nightly.root)["participant_id"])
    held_rows = lake_of_manifest(after_nightly.root).filter(
        pl.col("participant_id").is_in(["P98", "p01"])
    )
    assert set(held_rows["kind"]) == {"held"} and set(held_rows["status"]) == {"skipped"}
    assert held_rows.filter(pl.col("participant_id") == "p01")["path"].to_list() == [
        str(typo / "notes.txt")
    ]

    roster = after_nightly.root / "roster.csv"
    roster.write_text(
        roster.read_text().rstrip("\n")
        + "\nP98,Europe/Oslo"
        + "," * (roster.read_text().splitlines()[0].count(",") - 1)
        + "\n"
    )
    added = nightly_flow(str(after_nightly.root))

    assert added["files"]["ok"] > 0
    weekly = weekly_of(after_nightly.root).filter(pl.col("participant_id") == "P98")
    assert weekly.height > 0 and weekly["mvpa_minutes"].sum() > 0


def test_an_archive_refused_by_the_limit_is_read_by_the_next_nightly_once_raised(
    after_nightly: DemoCopy,
) -> None:
    """Issue 12 item 2: raise the limit in study.toml and the next nightly reads the archive by itself."""
    import zipfile

    from tests.foundation.test_read_again import _tcx

    archive = after_nightly.root / "inbox" / "P01" / "run.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("run.tcx", _tcx())
    toml = after_nightly.root / "study.toml"
    original = toml.read_text()
    toml.write_text(
        original.replace(
            "archive_ratio_floor_bytes = 67108864", "archive_ratio_floor_bytes = 0"
        ).replace("archive_max_expansion_ratio = 200.0", "archive_max_expansion_ratio = 1.5")
    )
    nightly_flow(str(after_nightly.root))
    man = lake_of_manifest(after_nightly.root)
    refused = man.filter(pl.col("path") == str(archive))
    assert refused["status"].to_list() == ["quarantined"]
    assert "over the limit" in refused["reason"][0]
    before = weekly_of(after_nightly.root)

    toml.write_text(original)
    nightly_flow(str(after_nightly.root))
    man = lake_of_manifest(after_nightly.root)
    rows = man.filter(pl.col("path").str.starts_with(str(archive)))
    assert sorted(rows["status"].to_list()) == ["ok", "ok", "retired"]
    tcx = rows.filter(pl.col("kind") != "zip").filter(pl.col("status") == "ok")
    assert tcx["rows_sessions"].to_list() == [1]
    after = weekly_of(after_nightly.root)
    others = (
        pl.col("participant_id") != "P01"
    )  # the limits are in the config hash: compare the numbers
    assert (
        after.filter(others).drop("config_hash").equals(before.filter(others).drop("config_hash"))
    )
    again = nightly_flow(str(after_nightly.root))
    assert again["files"]["new"] == 0
    assert weekly_of(after_nightly.root).equals(after)
