"""466 damaged FIT files: truncations, bit flips, junk, header and CRC damage, impossible dates and heart rates.

Two undamaged files are written by the demo's FIT writer: a day of
monitoring (one message a minute) and a 40-minute activity (one record a
second). Each case is read by ``ingest.fit.reader.read_fit`` and then dated
by ``ingest.time_window.within_window``, as the ingest pipeline does.

For damage at byte ``p`` the *good records* are the undamaged file's minute
rows wholly before the first data record that reaches ``p``: the reader has
every byte they came from. A good row lost is one that is missing from the
damaged file's read or differs from the intact one in any column.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from bench.adversarial.figures import AreaFigures
from ingest.contract import ReadContext, ReadResult
from ingest.fit.decode import decode_fit
from ingest.fit.reader import read_fit
from ingest.time_window import CREATED_KEY, WRITTEN_KEY, Window, within_window
from pipeline.demo.fit_files import activity_bytes, write_monitoring_days
from tests.fitbit.helpers import worn_truth

SEED = 15
TZ = "Europe/Oslo"
CLOCK = datetime(2026, 12, 1, tzinfo=UTC)
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
DAMAGE_COUNTS = {"truncated": 170, "bit flip": 167, "junk inserted": 60}
HR_HIGH = 254.0
COUNTED_KEYS = ("samples_implausible_dropped", "times_implausible_dropped")


def _ctx() -> ReadContext:
    return ReadContext(
        participant_id="P01", file_id="f" * 64, path="case.fit", timezone=TZ, zones={"P01": TZ}
    )


def read_like_ingest(data: bytes) -> tuple[ReadResult, pl.DataFrame, int]:
    """The reader's result, its minute rows inside the run's window, and the values counted out."""
    result = read_fit(data, _ctx())
    window = Window.at(CLOCK).for_file(result.notes.get(WRITTEN_KEY), result.notes.get(CREATED_KEY))
    kept, dropped = within_window(result.tables, window)
    counted = dropped.count + sum(int(result.notes.get(k, 0) or 0) for k in COUNTED_KEYS)
    minutes = kept.get("minutes")
    frame = pl.from_arrow(minutes) if minutes is not None else pl.DataFrame()
    assert isinstance(frame, pl.DataFrame)
    return result, frame.drop([c for c in ("file_id",) if c in frame.columns]), counted


def _record_starts(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Byte offset of every data record's header byte in the intact file and its time (UTC seconds)."""
    decoded = decode_fit(data)
    offsets, times = [], []
    for table in decoded:
        offsets.append(table.offset.astype(np.int64) - 1)
        times.append(np.where(table.time_valid, table.time, -1))
    offset = np.concatenate(offsets)
    time = np.concatenate(times)
    order = np.argsort(offset)
    return offset[order], time[order]


def _good_before(
    clean: pl.DataFrame, starts: tuple[np.ndarray, np.ndarray], p: int
) -> pl.DataFrame:
    """Rows of the intact read wholly before the first record whose bytes reach offset ``p``."""
    offset, time = starts
    nxt = np.append(offset[1:], np.iinfo(np.int64).max)
    reached = np.nonzero(nxt > p)[
        0
    ]  # records ending at or after p (the next header byte is past p)
    if reached.size == 0:
        return clean
    later = time[reached[0] :]
    later = later[later >= 0]
    if later.size == 0:
        return clean
    cut = FIT_EPOCH + timedelta(seconds=int(later.min()))
    cut = cut.replace(second=0)  # the minute holding the damaged record is not whole
    return clean.filter(pl.col("minute_utc") < cut)


def _lost(good: pl.DataFrame, got: pl.DataFrame) -> int:
    if good.height == 0:
        return 0
    if got.height == 0:
        return good.height
    got = got.select(good.columns)
    return good.join(got, on=good.columns, how="anti", nulls_equal=True).height


def _intact_files(folder: Path) -> dict[str, bytes]:
    truth = worn_truth(datetime(2026, 3, 2), 1, TZ, hours=(7, 21), seed=11)
    (monitoring,) = write_monitoring_days(truth, folder, device_serial=3_900_000_015)
    start = truth["minute_utc"].min() + timedelta(hours=3)  # type: ignore[operator]
    activity = activity_bytes(truth, start, start + timedelta(minutes=40), "running", 3_900_000_016)
    return {"monitoring": monitoring.read_bytes(), "activity": activity}


def _damaged(data: bytes, kind: str, rng: np.random.Generator) -> tuple[bytes, int]:
    """``data`` damaged by ``kind``, and the first byte offset the damage touches."""
    header = data[0]
    if kind == "truncated":
        p = int(rng.integers(1, len(data)))
        return data[:p], p
    if kind == "bit flip":
        p = int(rng.integers(0, len(data)))
        out = bytearray(data)
        out[p] ^= 1 << int(rng.integers(0, 8))
        return bytes(out), p
    p = int(rng.integers(header, len(data) - 2))
    junk = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
    return data[:p] + junk + data[p:], p


def _header_cases(data: bytes) -> list[tuple[str, bytes, int]]:
    """Every header byte set to 0x00 and to 0xFF, the file CRC wrong and zeroed, the header CRC zeroed."""
    cases = []
    for i in range(data[0]):
        for value in (0x00, 0xFF):
            if data[i] != value:
                cases.append(
                    (f"header byte {i}={value:#x}", data[:i] + bytes([value]) + data[i + 1 :], i)
                )
    n = len(data)
    cases.append(("file CRC wrong", data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]]), n - 2))
    cases.append(("file CRC zeroed", data[:-2] + b"\x00\x00", n - 2))
    cases.append(
        ("header CRC zeroed (valid: not computed)", data[:12] + b"\x00\x00" + data[14:], n)
    )
    return cases


def _impossible_cases(folder: Path) -> list[tuple[str, bytes, int]]:
    """Valid-CRC files dated 1998 and 2126, and heart rate alternating 0 and 254 bpm.

    FIT stores heart rate in one byte (255 means invalid), so 254 is the most
    impossible value a FIT file can hold; 300 bpm is tried in the exports area.

    The third field is how many rows the reader should keep (0 for a file
    whose every record is impossible, every minute for the 0/300 files).
    """
    cases: list[tuple[str, bytes, int]] = []
    for year in (1998, 2126):
        truth = worn_truth(
            datetime(year, 1, 5), 2, "UTC", hours=(8, 20), seed=year
        )  # FIT time ends 2126-02-06
        for path in write_monitoring_days(truth, folder / str(year), device_serial=3_900_000_100):
            cases.append((f"monitoring dated {year}", path.read_bytes(), 0))
        start = truth["minute_utc"].min()
        cases.append(
            (
                f"activity dated {year}",
                activity_bytes(truth, start, start + timedelta(minutes=30), "running"),  # type: ignore[operator]
                0,
            )
        )
    truth = worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(8, 20), seed=3)
    alternating = truth.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit(0.0, pl.Float32))
        .otherwise(pl.lit(HR_HIGH, pl.Float32))
        .alias("heart_rate_bpm")
    )
    (path,) = write_monitoring_days(alternating, folder / "hr", device_serial=3_900_000_101)
    cases.append(("monitoring HR 0/254 alternating", path.read_bytes(), alternating.height))
    start = truth["minute_utc"].min()
    for minutes in (10, 30, 60):
        cases.append(
            (
                f"activity HR 0/254 alternating, {minutes} min",
                activity_bytes(alternating, start, start + timedelta(minutes=minutes), "running"),  # type: ignore[operator]
                minutes,
            )
        )
    every_third = truth.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(pl.lit(HR_HIGH, pl.Float32))
        .otherwise(pl.col("heart_rate_bpm"))
        .alias("heart_rate_bpm")
    )
    (path,) = write_monitoring_days(every_third, folder / "hr3", device_serial=3_900_000_102)
    cases.append(("monitoring HR 254 every third minute", path.read_bytes(), every_third.height))
    return cases


def run(folder: Path) -> AreaFigures:
    fig = AreaFigures("FIT files")
    rng = np.random.default_rng(SEED)
    intact = _intact_files(folder)
    clean = {name: read_like_ingest(data)[1] for name, data in intact.items()}
    starts = {name: _record_starts(data) for name, data in intact.items()}
    names = list(intact)
    plan: list[tuple[str, str, bytes, int]] = []
    for kind, count in DAMAGE_COUNTS.items():
        for i in range(count):
            name = names[i % len(names)]
            damaged, p = _damaged(intact[name], kind, rng)
            plan.append((f"{name} {kind} at {p}", name, damaged, p))
    for name in names:
        for label, damaged, p in _header_cases(intact[name]):
            plan.append((f"{name} {label}", name, damaged, p))
    for label, name, damaged, p in plan:
        fig.cases += 1
        try:
            result, got, counted = read_like_ingest(damaged)
        except Exception as error:  # the figure: nothing may escape the reader
            fig.crashed(label, error)
            continue
        fig.impossible_counted += counted
        fig.outcomes[result.status] += 1
        lost = _lost(_good_before(clean[name], starts[name], p), got)
        fig.good_lost += lost
        if lost and len(fig.loss_examples) < 5:
            fig.loss_examples.append(
                f"{label}: {lost} good rows lost ({result.status}, {result.reason})"
            )
    for label, data, keep in _impossible_cases(folder):
        fig.cases += 1
        try:
            result, got, counted = read_like_ingest(data)
        except Exception as error:
            fig.crashed(label, error)
            continue
        fig.impossible_counted += counted
        status = (
            "quarantined" if got.height == 0 and result.status != "quarantined" else result.status
        )
        fig.outcomes[f"{status} (impossible)"] += 1
        fig.good_lost += max(0, keep - got.height)
        if "heart_rate_bpm" in got.columns:
            landed = got.filter(~pl.col("heart_rate_bpm").is_between(20, 220)).height
            if landed:
                fig.outcomes["minutes with impossible HR landed"] += landed
    return fig
