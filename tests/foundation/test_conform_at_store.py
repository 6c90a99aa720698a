"""Tables are conformed once, at the store boundary (issue 16 item 3).

``config.conform.conform`` casts and orders any table to its canonical schema;
the lake (every batch piece) and the derived store (the weekly table) call it
before writing. A table of the wrong types is either conformed (the values
survive the cast) or refused with an error naming the table and the column,
and then nothing of it is written.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from config.conform import PIPELINE_FILLED, SchemaError, conform
from config.schema import MINUTES, WEEKLY
from store.derived import DerivedStore
from store.lake import Batch, Lake

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _mistyped_minutes() -> pa.Table:
    """Minutes as a careless reader might hand them over: wide ints, doubles, wrong order, an extra column."""
    return pa.table(
        {
            "heart_rate_bpm": pa.array([71.5, None], pa.float64()),
            "steps": pa.array([12, 40], pa.int64()),
            "minute_utc": pa.array([T0, T0.replace(minute=1)], pa.timestamp("us", tz="UTC")),
            "source": pa.array(["fitbit_takeout"] * 2, pa.large_string()),
            "participant_id": ["P01", "P01"],
            "file_id": ["f1", "f1"],
            "_scratch": [1, 2],
        }
    )


def _manifest() -> pa.Table:
    return pa.table(
        {
            "file_id": ["f1"],
            "path": ["P01/steps.json"],
            "participant_id": ["P01"],
            "kind": ["test"],
            "size_bytes": [10],
            "status": ["ok"],
            "rows_minutes": [2],
            "rows_daily_totals": [0],
            "rows_sessions": [0],
            "ingested_at": pa.array([T0], pa.timestamp("us", tz="UTC")),
        }
    )


def test_a_mistyped_table_is_cast_and_ordered_to_the_canonical_schema() -> None:
    table = conform(_mistyped_minutes(), MINUTES)
    assert table.schema == MINUTES
    assert table.column("steps").to_pylist() == [12, 40]
    assert table.column("heart_rate_bpm").to_pylist() == [71.5, None]
    assert table.column("mets").null_count == 2  # a column the reader does not report: nulls
    assert "_scratch" not in table.column_names


def test_a_value_the_canonical_type_cannot_hold_is_refused_naming_the_column() -> None:
    too_many = _mistyped_minutes().set_column(1, "steps", pa.array([12, 2**40], pa.int64()))
    with pytest.raises(
        SchemaError, match=r"minutes: column 'steps' is int64, which cannot be int32"
    ):
        conform(too_many, MINUTES)
    words = _mistyped_minutes().set_column(1, "steps", pa.array(["12", "many"]))
    with pytest.raises(SchemaError, match=r"minutes: column 'steps' is string"):
        conform(words, MINUTES)


def test_a_missing_required_column_is_refused_unless_the_pipeline_fills_it_later() -> None:
    without_ids = _mistyped_minutes().drop(["participant_id", "file_id"])
    with pytest.raises(
        SchemaError, match=r"minutes: missing required columns \['participant_id', 'file_id'\]"
    ):
        conform(without_ids, MINUTES)
    partial = conform(without_ids, MINUTES, filled_later=PIPELINE_FILLED)
    assert partial.column_names == [n for n in MINUTES.names if n not in PIPELINE_FILLED]
    assert partial.column("steps").type == pa.int32()


def test_the_lake_conforms_every_piece_of_a_batch_and_refuses_a_bad_one_before_the_commit(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake")
    other_shape = conform(_mistyped_minutes(), MINUTES).slice(
        0, 1
    )  # a second file, canonical already
    lake.write_batch(Batch("P01", {"minutes": [_mistyped_minutes(), other_shape]}, _manifest()))
    minutes = lake.scan("minutes").collect().sort("minute_utc", "heart_rate_bpm")
    assert minutes["steps"].to_list() == [12, 12, 40]
    assert minutes.schema["steps"] == pl.Int32

    bad = _mistyped_minutes().set_column(2, "minute_utc", pa.array(["08:00", "08:01"]))
    with pytest.raises(SchemaError, match="'minute_utc'"):
        lake.write_batch(Batch("P02", {"minutes": [bad]}, _manifest()))
    assert lake.manifest()["participant_id"].to_list() == ["P01"]  # nothing of P02 committed


def _weekly() -> pl.DataFrame:
    frame = pl.from_arrow(WEEKLY.empty_table())
    assert isinstance(frame, pl.DataFrame)
    row = {c: None for c in frame.columns} | {
        "participant_id": "P01",
        "week_start": date(2026, 3, 2),
        "moderate_minutes": 63,
        "vigorous_minutes": 27,
        "mvpa_minutes": 90,
        "wear_minutes": 6300,
        "valid_days": 7,
        "status": "met",
    }
    return pl.DataFrame([row], schema=frame.schema).cast({"moderate_minutes": pl.Int64})


def test_the_weekly_derived_table_is_written_in_its_canonical_schema(tmp_path: Path) -> None:
    store = DerivedStore(tmp_path / "derived")
    store.write("weekly", _weekly().select(reversed(_weekly().columns)))
    back = store.read("weekly")
    assert back is not None
    assert back.columns == WEEKLY.names
    assert back.row(0, named=True)["moderate_minutes"] == 63
    assert back.schema == pl.from_arrow(WEEKLY.empty_table()).schema  # type: ignore[union-attr]


def test_a_weekly_frame_of_the_wrong_type_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = DerivedStore(tmp_path / "derived")
    wrong = _weekly().with_columns(pl.lit("ninety").alias("mvpa_minutes"))
    with pytest.raises(SchemaError, match=r"weekly: column 'mvpa_minutes'"):
        store.write("weekly", wrong)
    assert not store.exists("weekly")
