"""The byte scanner for Fitbit JSON series agrees with a real JSON parser, and falls back safely."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.fitbit.json_scan import JsonDamage, scan_stamped_integers


def _records(values: list[int], heart: bool) -> list[dict]:
    t0 = datetime(2015, 5, 18, 14, 0, 0)
    return [
        {
            "dateTime": (t0 + timedelta(seconds=5 * i)).strftime("%m/%d/%y %H:%M:%S"),
            "value": {"bpm": v, "confidence": i % 4} if heart else str(v),
        }
        for i, v in enumerate(values)
    ]


def _expected(records: list[dict]) -> tuple[np.ndarray, list[int]]:
    seconds = np.array(
        [
            int(
                (
                    datetime.strptime(r["dateTime"], "%m/%d/%y %H:%M:%S") - datetime(1970, 1, 1)
                ).total_seconds()
            )
            for r in records
        ]
    )
    values = [
        r["value"]["bpm"] if isinstance(r["value"], dict) else int(r["value"]) for r in records
    ]
    return seconds, values


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(0, 99_999), min_size=1, max_size=50),
    heart=st.booleans(),
    indent=st.sampled_from([None, 1, 2, 4]),
)
def test_scanner_matches_json_parser(values: list[int], heart: bool, indent: int | None) -> None:
    records = _records(values, heart)
    raw = json.dumps(records, indent=indent).encode()
    got = scan_stamped_integers(raw, b"bpm" if heart else b"value", quoted=not heart)
    seconds, expected = _expected(records)
    assert got.fast_path
    assert got.values.tolist() == expected
    assert got.seconds.tolist() == seconds.tolist()


def test_unusual_key_order_falls_back_to_the_parser() -> None:
    raw = b'[{"value": {"confidence": 3, "bpm": 71}, "dateTime": "05/18/15 14:00:00"}]'
    got = scan_stamped_integers(raw, b"bpm", quoted=False)
    assert got.values.tolist() == [71]
    assert not got.fast_path


def test_fractional_values_are_not_misread() -> None:
    raw = b'[{"dateTime": "05/18/15 14:00:00", "value": {"bpm": 71.6, "confidence": 3}}]'
    got = scan_stamped_integers(raw, b"bpm", quoted=False)
    assert not got.fast_path and got.values.tolist() == [72]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'[{"dateTime": "05/18/15 14:00:00", "value": "3"}, {"dateTi', "not valid JSON"),
        (b'{"dateTime": "05/18/15 14:00:00", "value": "3"}', "not a JSON array"),
        (b'[{"dateTime": "99/99/15 14:00:00", "value": "3"}]', "unreadable dateTime"),
        (b'[{"dateTime": "02/30/16 14:00:00", "value": "3"}]', "unreadable dateTime"),
    ],
)
def test_damage_raises_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(JsonDamage, match=message):
        scan_stamped_integers(raw, b"value", quoted=True)
