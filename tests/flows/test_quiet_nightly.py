"""A nightly with nothing new reuses the previous run's last heart-rate days (a scan of every minute of
the lake), and says the same."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from config import open_study
from pipeline.jobs import lake_of
from pipeline.lake_cache import LakeCache, lake_key
from pipeline.summary import attention_table
from tests.flows.conftest import DemoCopy

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def test_a_quiet_nightly_reuses_the_answers_and_its_summary_is_unchanged(
    after_nightly: DemoCopy,
) -> None:
    from flows.nightly import nightly_flow

    study = open_study(after_nightly.root)
    first: dict[str, Any] = nightly_flow(str(study.root))  # stores the answers under the lake's key
    state = study.paths.derived / "state"
    key = lake_key(study, lake_of(study))
    assert pl.read_parquet(state / "last_heart_rate_key.parquet")["key"].to_list() == [key]
    second: dict[str, Any] = nightly_flow(str(study.root))
    assert second["files"]["new"] == 0
    assert second["attention"] == first["attention"]
    cut = first["summary"].split("\n", 1)[
        1
    ]  # the title line carries nothing run-specific; the rest
    assert second["summary"].split("\n", 1)[1] == cut

    # the cached answers are the answers computed afresh
    cache = LakeCache(study, lake_of(study))
    assert attention_table(study, cache=cache).equals(attention_table(study))
