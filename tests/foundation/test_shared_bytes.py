"""The same bytes under two participants (issue 15 item 6): recorded for each, never decided by a race.

Before, a file copied into a second participant's inbox was "new 0" (its
content hash was known) and which participant owned it depended on which
was read first. Now identity is still the content hash, but a file is known
*for a participant*: each participant who holds the bytes gets them, in
whatever order they arrive, and the notes name the others.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from config import Study
from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor
from pipeline.demo.fit_files import write_monitoring_days
from pipeline.jobs import InboxItem, new_items
from tests.fitbit.helpers import worn_truth


def _study(root: Path) -> Study:
    init_study(root)
    write_roster(
        pl.DataFrame(
            {
                "participant_id": ["P01", "P02"],
                "timezone": ["UTC", "UTC"],
                "fitabase_id": [None, None],
            }
        ),
        root / "roster.csv",
    )
    return open_study(root)


@pytest.fixture()
def day_file(tmp_path: Path) -> Path:
    truth = worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(8, 10))
    (path,) = write_monitoring_days(truth, tmp_path / "fit", device_serial=3_900_000_001)
    return path


def _state(study: Study) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
    """(participant, status, minutes rows) per manifest row, and minutes per participant in the lake."""
    lake = Ingestor(study).lake
    manifest = lake.manifest().sort("participant_id")
    minutes = lake.scan("minutes").group_by("participant_id").len().sort("participant_id").collect()
    return (
        list(manifest.select("participant_id", "status", "rows_minutes").iter_rows()),
        list(minutes.iter_rows()),
    )


@pytest.mark.parametrize("order", [("P01", "P02"), ("P02", "P01")])
def test_a_file_copied_into_a_second_inbox_is_recorded_for_both_in_either_order(
    tmp_path: Path, day_file: Path, order: tuple[str, str]
) -> None:
    study = _study(tmp_path / "study")
    copies = {pid: tmp_path / pid / day_file.name for pid in order}
    for copy in copies.values():
        copy.parent.mkdir()
        copy.write_bytes(day_file.read_bytes())
    first, second = order
    (a,) = Ingestor(study).ingest(first, [copies[first]]).outcomes
    (b,) = Ingestor(study).ingest(second, [copies[second]]).outcomes
    assert (a.new, a.status, a.rows) == (True, "ok", {"minutes": 120, "daily_totals": 1})
    assert (b.new, b.status, b.rows) == (True, "ok", {"minutes": 120, "daily_totals": 1})
    assert a.reason is None
    assert f"the same bytes are also recorded for {first}" in (b.reason or "")
    assert _state(study) == (
        [("P01", "ok", 120), ("P02", "ok", 120)],
        [("P01", 120), ("P02", 120)],
    )
    manifest = Ingestor(study).lake.manifest()
    notes = json.loads(manifest.filter(pl.col("participant_id") == second)["notes"][0])
    assert notes["same_bytes_also_held_by"] == [first]

    # run again: nothing new for either participant
    again = [Ingestor(study).ingest(pid, [copies[pid]]).outcomes[0] for pid in order]
    assert [(o.new, o.kind) for o in again] == [(False, "known"), (False, "known")]
    assert _state(study)[1] == [("P01", 120), ("P02", 120)]


def test_the_nightly_batch_reads_both_copies_and_its_inbox_check_sees_the_second_as_new(
    tmp_path: Path, day_file: Path
) -> None:
    study = _study(tmp_path / "study")
    copies = {}
    for pid in ("P01", "P02"):
        copies[pid] = tmp_path / "inbox" / pid / day_file.name
        copies[pid].parent.mkdir(parents=True)
        copies[pid].write_bytes(day_file.read_bytes())
    ingestor = Ingestor(study)
    ingestor.ingest("P01", [copies["P01"]])
    items = [InboxItem(pid, copies[pid]) for pid in ("P01", "P02")]
    fresh = new_items(items, ingestor.known)
    assert [i.participant_id for i in fresh] == ["P02"]

    # both copies new in one shard batch (the nightly's ingest_files): both are read
    study2 = _study(tmp_path / "study2")
    report = Ingestor(study2).ingest_files({pid: [copies[pid]] for pid in ("P02", "P01")})
    assert sorted((o.participant_id, o.status, o.new) for o in report.outcomes) == [
        ("P01", "ok", True),
        ("P02", "ok", True),
    ]
    assert _state(study2)[1] == [("P01", 120), ("P02", 120)]


def test_repair_of_the_first_holders_batch_records_the_file_as_a_clean_run_did(
    tmp_path: Path, day_file: Path
) -> None:
    """Found by bench.adversarial: re-read by repair after P02 had recorded the same bytes, P01's row
    named P02 as another holder, so the repaired manifest differed from the clean run's."""
    from pipeline.repair import repair

    study = _study(tmp_path / "study")
    for pid in ("P01", "P02"):
        inbox = study.root / "inbox" / pid
        inbox.mkdir(parents=True)
        (inbox / day_file.name).write_bytes(day_file.read_bytes())
        Ingestor(study).ingest(pid, [inbox / day_file.name])
    columns = ["participant_id", "status", "reason", "notes", "rows_minutes"]
    clean = Ingestor(study).lake.manifest().sort("participant_id").select(columns)
    assert clean["reason"].to_list()[0] is None  # P01 read the bytes first
    assert "also recorded for P01" in clean["reason"].to_list()[1]
    (part,) = (study.root / "store" / "lake" / "minutes" / "participant_id=P01").glob("*.parquet")
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])

    report = repair(open_study(study.root), None)

    assert any(line.startswith("removed damaged batch P01/") for line in report.done)
    repaired = Ingestor(open_study(study.root)).lake.manifest().sort("participant_id")
    assert repaired.select(columns).equals(clean)
    assert json.loads(repaired["notes"][1])["same_bytes_also_held_by"] == ["P01"]
