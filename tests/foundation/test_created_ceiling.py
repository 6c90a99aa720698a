"""A FIT file's own creation time is a ceiling for its records, with a month of slack (issue 15 item 2).

``file_id.time_created`` is when the device opened the file; records run
past it (61 h in the corpus' monitoring file, weeks in an expedition-mode
activity), so the ceiling is creation plus 31 days. Records beyond it are
dropped and counted with the reason; a creation time before FIT devices
existed (a clock not yet set) cuts nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from config import Study
from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S
from ingest.fit.writer import FitWriter
from ingest.pipeline import Ingestor
from ingest.time_window import CREATED_SLACK, Window
from tests.fit.corpus import corpus_file

CLOCK = datetime(2026, 9, 1, tzinfo=UTC)


def _fit_s(when: datetime) -> int:
    return int(when.timestamp()) - FIT_EPOCH_UNIX_S


def _monitoring(created: int, minutes: list[datetime]) -> bytes:
    """A monitoring_b file opened at ``created`` (FIT seconds) with one walking minute at each time."""
    w = FitWriter()
    w.define(0, "file_id", ["type", "manufacturer", "product", "serial_number", "time_created"])
    w.write(0, [32, 1, 2413, 42, created])
    w.define(
        1, "monitoring", ["timestamp", "cycles", "heart_rate", "current_activity_type_intensity"]
    )
    for k, when in enumerate(minutes):
        w.write(1, [_fit_s(when), 100 * (k + 1), 90, [6 | (1 << 5)]])
    return w.to_bytes()


def _study(root: Path) -> Study:
    init_study(root)
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["UTC"]}), root / "roster.csv"
    )
    return open_study(root)


def _ingest(tmp_path: Path, data: bytes) -> tuple[str, dict[str, object], pl.DataFrame]:
    study = _study(tmp_path / "study")
    path = tmp_path / "watch.fit"
    path.write_bytes(data)
    ingestor = Ingestor(study, clock=lambda: CLOCK)
    (outcome,) = ingestor.ingest("P01", [path]).outcomes
    notes = json.loads(ingestor.lake.manifest()["notes"][0] or "{}")
    minutes = (
        ingestor.lake.scan("minutes").collect()
        if outcome.status != "quarantined"
        else pl.DataFrame()
    )
    return outcome.status, notes, minutes


def test_records_more_than_a_month_after_the_file_was_opened_are_dropped_and_counted(
    tmp_path: Path,
) -> None:
    opened = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    real = [datetime(2026, 3, 2, 8, m, tzinfo=UTC) for m in range(3)]
    late = [datetime(2026, 3, 4, 13, 0, tzinfo=UTC), datetime(2026, 4, 1, 23, 0, tzinfo=UTC)]
    wrong = [datetime(2026, 5, 10, 8, m, tzinfo=UTC) for m in range(2)]  # before the run's clock
    status, notes, minutes = _ingest(tmp_path, _monitoring(_fit_s(opened), real + late + wrong))

    assert status == "ok"
    assert notes["created_utc"] == "2026-03-02T00:00:00Z"
    assert (
        minutes.sort("minute_utc")["minute_utc"].to_list() == real + late
    )  # 61 h and 30 days kept
    assert notes["times_implausible_dropped"] == 2
    assert notes["times_implausible_dropped_examples"] == [
        "minutes 2026-05-10T08:00:00Z: more than 31 days after the file was opened "
        "(2026-03-02T00:00:00Z) (2026-04-02T00:00Z)",
        "minutes 2026-05-10T08:01:00Z: more than 31 days after the file was opened "
        "(2026-03-02T00:00:00Z) (2026-04-02T00:00Z)",
    ]


def test_a_creation_time_before_fit_devices_existed_cuts_nothing(tmp_path: Path) -> None:
    unset = _fit_s(datetime(1995, 1, 1, tzinfo=UTC))  # a clock not set when the file was opened
    real = [datetime(2026, 3, 2, 8, m, tzinfo=UTC) for m in range(3)]
    status, notes, minutes = _ingest(tmp_path, _monitoring(unset, real))
    assert status == "ok"
    assert "created_utc" not in notes and "times_implausible_dropped" not in notes
    assert minutes["minute_utc"].sort().to_list() == real


def test_the_lowest_of_clock_written_and_created_ceilings_wins() -> None:
    window = Window.at(CLOCK)
    assert (
        window.for_file(None, "2026-03-02T00:00:00Z").ceiling
        == datetime(2026, 3, 2, tzinfo=UTC) + CREATED_SLACK
    )
    assert window.for_file("2026-03-10T00:00:00Z", "2026-03-02T00:00:00Z").ceiling == datetime(
        2026, 3, 11, tzinfo=UTC
    )
    assert window.for_file(None, "2026-08-25T00:00:00Z").ceiling == window.ceiling
    assert window.for_file(None, "not a date") is window


def test_the_corpus_monitoring_file_61_hours_past_its_creation_keeps_every_record(
    tmp_path: Path,
) -> None:
    path = corpus_file("MonitoringFile.fit")  # skips with the reason when the corpus is absent
    status, notes, minutes = _ingest(tmp_path, path.read_bytes())
    assert status == "ok"
    assert "times_implausible_dropped" not in notes
    assert minutes.height > 0
