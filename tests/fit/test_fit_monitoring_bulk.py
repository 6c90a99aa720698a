"""The numpy monitoring mapping gives exactly the tables of the earlier polars formulation.

``monitoring_reference.monitoring_tables`` is the mapping as it was written
first (about 20 polars queries per file); the reader now does the same on
numpy columns. Both run on every monitoring file of the shared corpus, the
hand-written reader fixtures and generated days across DST, with the roster
zone, a wrong zone, an unknown zone and no zone.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from config.conform import conform
from config.schema import DAILY_TOTALS, MINUTES
from ingest.fit.decode import decode_fit
from ingest.fit.file_info import MONITORING_TYPES, file_info, first_valid
from ingest.fit.monitoring import monitoring_tables
from ingest.fit.reader import NEEDED_MESSAGES
from tests.fit import monitoring_reference
from tests.fit.corpus import corpus_files
from tests.fit.test_fit_reader import _monitoring_file

ZONES = (None, "Europe/Oslo", "America/New_York", "Asia/Kolkata", "Not/AZone")


def _generated_days(tmp: Path) -> list[bytes]:
    """Demo monitoring days around the 2024 DST changes of New York and Oslo."""
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days

    out: list[bytes] = []
    for k, zone in enumerate(("America/New_York", "Europe/Oslo", "Asia/Kolkata")):
        p = DemoParticipant(f"P{k}", zone, 1970, 60, 175, "fit", 40)
        truth = truth_minutes(p, seed=k, weeks=2)
        out += [f.read_bytes() for f in write_monitoring_days(truth, tmp / str(k), device_serial=k)]
    return out


def _canonical(tables: dict, name: str) -> pl.DataFrame:
    schema = {"minutes": MINUTES, "daily_totals": DAILY_TOTALS}[name]
    t = tables[name]
    t = t.append_column("participant_id", pl.Series(["P"] * t.num_rows).to_arrow())
    t = t.append_column("file_id", pl.Series(["f"] * t.num_rows).to_arrow())
    frame = pl.from_arrow(conform(t, schema))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _monitoring_inputs(tmp: Path) -> list[bytes]:
    files = [p.read_bytes() for p in corpus_files()]
    files += [
        _monitoring_file(),
        _monitoring_file(start_local=1_000_022_400 - 1_000_022_400 % 86400 + 7200),
    ]
    return files + _generated_days(tmp)


def test_numpy_mapping_equals_the_polars_reference(tmp_path: Path) -> None:
    compared = 0
    for data in _monitoring_inputs(tmp_path):
        decoded = decode_fit(data, messages=NEEDED_MESSAGES)
        if decoded.status == "not_fit":
            continue
        info = file_info(decoded)
        if info.file_type not in MONITORING_TYPES and not (
            info.file_type is None and len(decoded["monitoring"])
        ):
            continue
        local = first_valid(decoded["monitoring_info"], "local_timestamp")
        for zone in ZONES:
            kwargs = dict(
                offset_s=info.utc_offset_s,
                timezone=zone,
                file_start_local_s=None if local is None else int(local),
                device=info.device,
            )
            got, got_notes = monitoring_tables(decoded["monitoring"], **kwargs)
            want, want_notes = monitoring_reference.monitoring_tables(
                decoded["monitoring"], **kwargs
            )
            assert got_notes == want_notes
            for name in ("minutes", "daily_totals"):
                assert_frame_equal(_canonical(got, name), _canonical(want, name))
            compared += 1
    assert compared >= 5 * len(ZONES), f"only {compared} monitoring comparisons ran"


def test_reference_really_differs_from_a_broken_mapping(tmp_path: Path) -> None:
    """The comparison can fail: shifting every offset by a minute is caught."""
    decoded = decode_fit(_monitoring_file(), messages=NEEDED_MESSAGES)
    info = file_info(decoded)
    got, _ = monitoring_tables(
        decoded["monitoring"],
        offset_s=(info.utc_offset_s or 0) + 60,
        timezone=None,
        file_start_local_s=None,
        device=None,
    )
    want, _ = monitoring_reference.monitoring_tables(
        decoded["monitoring"],
        offset_s=info.utc_offset_s,
        timezone=None,
        file_start_local_s=None,
        device=None,
    )
    with pytest.raises(AssertionError):
        assert_frame_equal(_canonical(got, "minutes"), _canonical(want, "minutes"))
