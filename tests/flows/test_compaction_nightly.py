"""The nightly compacts the lake it touched (issue 17 item 2), and nothing a coordinator sees changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.nightly import nightly_flow
from pipeline.jobs import COMPACT_ENV
from store.lake import ADOPT_PART_BYTES, Lake
from tests.flows.conftest import DemoCopy, copy_study, warehouse_tables, weekly_of
from tests.flows.test_nightly import NEW_DAY, assert_incremental_equals_full, write_new_fit_day

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows


def lake_folders(root: Path, table: str) -> set[str]:
    lake = root / "store" / "lake" / table
    return {p.name.split("=", 1)[0] for p in lake.iterdir() if p.is_dir() and any(p.iterdir())}


def assert_fresh_parts_are_adopted(root: Path) -> None:
    """Data parts left in participant folders are large batches a generation names where they are."""
    lake = Lake(root / "store" / "lake")
    named = {Path(p) for g in lake._generations().values() for p in g.named()}
    left = sorted((root / "store" / "lake").glob("*/participant_id=*/*.parquet"))
    assert left, "the demo's exports are large batches: adopted, not rewritten"
    for part in left:
        assert part in named, part
        sizes = [
            p.stat().st_size
            for p in part.parent.parent.parent.glob(f"*/{part.parent.name}/{part.name}")
        ]
        assert max(sizes) >= ADOPT_PART_BYTES, part


def test_a_nightly_past_the_threshold_compacts_and_shows_the_same_weeks(
    after_nightly: DemoCopy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = DemoCopy(
        copy_study(after_nightly.root, tmp_path / "plain"), after_nightly.expected_weekly
    )
    for study in (after_nightly, plain):
        write_new_fit_day(study.root, "P01", NEW_DAY)
    nightly_flow(str(plain.root))  # the default threshold: the demo's few batches stay as they are
    assert lake_folders(plain.root, "minutes") == {"participant_id"}

    monkeypatch.setenv(COMPACT_ENV, "1")
    result = nightly_flow(str(after_nightly.root))
    assert result["files"]["new"] == 1
    # compacted and swept: small batches rewritten into bucket parts, large ones adopted
    assert lake_folders(after_nightly.root, "minutes") == {"bucket", "participant_id"}
    assert_fresh_parts_are_adopted(after_nightly.root)
    assert lake_folders(after_nightly.root, "files") == {"bucket"}
    assert weekly_of(after_nightly.root).equals(weekly_of(plain.root))
    compacted, uncompacted = warehouse_tables(after_nightly.root), warehouse_tables(plain.root)
    for name in ("weekly", "minutes", "daily_totals"):
        assert compacted[name].equals(uncompacted[name]), name
    assert compacted["files"].height == uncompacted["files"].height

    write_new_fit_day(after_nightly.root, "P03", NEW_DAY)  # the next night, on the compacted lake
    again = nightly_flow(str(after_nightly.root))
    assert again["touched"] == [{"participant_id": "P03", "week_start": NEW_DAY.isoformat()}]
    assert again["full_recompute"] is False
    assert_fresh_parts_are_adopted(after_nightly.root)
    assert lake_folders(after_nightly.root, "files") == {"bucket"}
    assert_incremental_equals_full(after_nightly.root)
