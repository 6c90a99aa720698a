"""The rescore flow recomputes from the lake under a changed study.toml, without reading raw files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from config import open_study
from flows.rescore import rescore_flow
from ingest.pipeline import Ingestor
from tests.flows.conftest import DemoCopy, weekly_of

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows


def test_a_new_threshold_rescores_every_week_from_the_lake(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = weekly_of(after_nightly.root)
    old_hash = open_study(after_nightly.root).inputs_hash()
    lake_parts = sorted(
        p.relative_to(after_nightly.root)
        for p in (after_nightly.root / "store" / "lake").rglob("*")
    )
    toml = after_nightly.root / "study.toml"
    toml.write_text(
        toml.read_text().replace(
            "threshold_minutes_per_week = 60", "threshold_minutes_per_week = 100", 1
        )
    )
    new_hash = open_study(after_nightly.root).inputs_hash()

    def no_raw_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("rescore must not read raw files")

    monkeypatch.setattr(Ingestor, "ingest_one", no_raw_reads)

    result = rescore_flow(str(after_nightly.root))

    after = weekly_of(after_nightly.root)
    assert (
        result["previous_config_hash"] == old_hash and result["config_hash"] == new_hash != old_hash
    )
    assert after["config_hash"].unique().to_list() == [new_hash]
    assert after.drop("status", "config_hash").equals(before.drop("status", "config_hash"))
    sufficient = after.filter(pl.col("status") != "insufficient")
    expected = pl.when(pl.col("mvpa_minutes") >= 100).then(pl.lit("met")).otherwise(pl.lit("below"))
    assert sufficient["status"].equals(sufficient.select(expected.alias("status"))["status"])
    assert (before["status"] != after["status"]).any(), (
        "the demo has weeks between 60 and 100 minutes"
    )
    info = json.loads(Path(result["run_info"]).read_text())
    assert info["flow"] == "rescore" and info["config_hash"] == new_hash
    assert (
        sorted(
            p.relative_to(after_nightly.root)
            for p in (after_nightly.root / "store" / "lake").rglob("*")
        )
        == lake_parts
    )
