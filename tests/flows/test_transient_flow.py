"""Transient is not terminal, through the nightly flow (issue 15 item 4).

The fault is raised inside the real FIT reader (its decoder), so the error
travels the whole way a real one would: reader, pipeline, task, retry.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import polars as pl
import pytest

import flows.nightly
import flows.tasks
from flows.nightly import nightly_flow
from ingest.contract import TransientInputError
from pipeline.jobs import lake_of
from tests.flows.conftest import DemoCopy
from tests.flows.test_nightly import NEW_DAY, write_new_fit_day

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]  # runs Prefect flows


@pytest.fixture()
def no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        flows.nightly,
        "ingest_shard",
        flows.nightly.ingest_shard.with_options(retry_delay_seconds=0),
    )


def _decoder_failing(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    import ingest.fit.reader as fit_reader

    real = fit_reader.decode_fit
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise TransientInputError("the sync client holds the file")
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_reader, "decode_fit", flaky)
    return calls


@pytest.mark.usefixtures("no_retry_wait")
def test_a_transient_error_inside_the_fit_reader_is_retried(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_new_fit_day(after_nightly.root, "P03", NEW_DAY)
    calls = _decoder_failing(monkeypatch, times=1)
    result = nightly_flow(str(after_nightly.root))
    assert len(calls) == 2
    assert result["files"]["ok"] == 1 and result["files"]["quarantined"] == 0
    assert result["touched"] == [{"participant_id": "P03", "week_start": NEW_DAY.isoformat()}]


@pytest.mark.usefixtures("no_retry_wait")
def test_a_file_still_failing_after_the_retries_is_left_for_the_next_run(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import open_study

    good, day = write_new_fit_day(after_nightly.root, "P03", NEW_DAY)
    calls = _decoder_failing(monkeypatch, times=1 + len(flows.tasks.RETRY_DELAYS_SECONDS))
    first = nightly_flow(str(after_nightly.root))
    assert len(calls) == 1 + len(flows.tasks.RETRY_DELAYS_SECONDS)
    assert first["files"]["failed"] == 1 and first["files"]["quarantined"] == 0
    manifest = lake_of(open_study(after_nightly.root)).manifest()
    assert (
        manifest.filter(pl.col("path").str.contains(good.name)).height == 0
    )  # neither known nor quarantined

    second = nightly_flow(str(after_nightly.root))  # the fault has passed
    assert second["files"]["ok"] == 1 and second["files"]["failed"] == 0
    rows = (
        lake_of(open_study(after_nightly.root))
        .manifest()
        .filter(pl.col("path").str.contains(good.name))
    )
    assert rows["status"].to_list() == ["ok"] and rows["rows_minutes"].to_list() == [day.height]


def test_a_reader_that_fails_to_import_fails_the_run(
    after_nightly: DemoCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_new_fit_day(after_nightly.root, "P03", NEW_DAY)
    real = importlib.import_module

    def broken(name: str, package: str | None = None) -> ModuleType:
        if name == "ingest.fit.reader":
            raise ImportError("cannot import name 'decode_fit'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", broken)
    state = nightly_flow(str(after_nightly.root), return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match=r"ingest\.fit\.reader\.read_fit cannot be loaded"):
        state.result()
