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
        (b'[{"dateTime": "05/18/15 14:0', "not valid JSON"),
        (b'{"dateTime": "05/18/15 14:00:00", "value": "3"}', "not a JSON array"),
        (b'[{"dateTime": "99/99/15 14:00:00", "value": "3"}]', "none of its 1 records"),
        (b'[{"dateTime": "02/30/16 14:00:00", "value": "3"}]', "none of its 1 records"),
    ],
)
def test_damage_raises_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(JsonDamage, match=message):
        scan_stamped_integers(raw, b"value", quoted=True)


def _steps(n: int) -> list[dict[str, object]]:
    start = datetime(2015, 5, 18)
    return [
        {
            "dateTime": (start + timedelta(minutes=i)).strftime("%m/%d/%y %H:%M:%S"),
            "value": str(i % 97),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("raw", [b"[]", b"  [ ]\n", b"", b"\xef\xbb\xbf[]"])
def test_an_empty_array_or_file_is_an_empty_series(raw: bytes) -> None:
    got = scan_stamped_integers(raw, b"value", quoted=True)
    assert got.seconds.size == 0 and got.dropped.count == 0 and got.cut is None


def test_a_byte_order_mark_is_ignored() -> None:
    records = _steps(30)
    got = scan_stamped_integers(
        b"\xef\xbb\xbf" + json.dumps(records).encode(), b"value", quoted=True
    )
    assert got.fast_path and got.values.tolist() == [i % 97 for i in range(30)]


@pytest.mark.parametrize("bad", ["1e308", "12345678901234567890", "-1e400", "NaN", "seven"])
def test_one_impossible_number_drops_only_its_record(bad: str) -> None:
    records = _steps(100)
    records[40]["value"] = bad
    got = scan_stamped_integers(json.dumps(records).encode(), b"value", quoted=True)
    expected = [i % 97 for i in range(100) if i != 40]
    assert got.values.tolist() == expected
    assert (
        got.dropped.count == 1
        and "record 41" in got.dropped.examples[0]
        and bad[:5] in got.dropped.examples[0]
    )
    assert got.cut is None


def test_fifty_unreadable_records_of_43200_drop_only_those() -> None:
    records = _steps(43_200)
    for i in range(0, 43_200, 864):  # 50 records spread over the month
        records[i] = {"dateTime": "not a time", "value": "oops"}
    got = scan_stamped_integers(json.dumps(records, indent=2).encode(), b"value", quoted=True)
    assert got.seconds.size == 43_150 and got.dropped.count == 50
    assert len(got.dropped.examples) == 5  # the first few, the count covers all


def test_a_broken_record_costs_only_itself() -> None:
    records = _steps(10)
    text = json.dumps(records).replace('"value": "5"}', '"value": "5}', 1)  # record 6 loses a quote
    got = scan_stamped_integers(text.encode(), b"value", quoted=True)
    assert got.values.tolist() == [i % 97 for i in range(10) if i != 5]
    assert (
        got.dropped.count == 1
        and "not a JSON record" in got.dropped.examples[0]
        and got.cut is None
    )


def test_bytes_between_records_that_are_no_record_are_counted() -> None:
    text = (
        json.dumps(_steps(10))
        .replace("}, {", "}, @@@ {", 1)
        .replace('"value": "3"', '"value": 3.5', 1)
    )
    got = scan_stamped_integers(text.encode(), b"value", quoted=True)
    assert got.values.size == 10 and got.dropped.count == 1 and "@@@" in got.dropped.examples[0]


def test_a_truncated_file_keeps_the_records_before_the_cut() -> None:
    records = _steps(20)
    text = json.dumps(records).encode()
    cut = text[: text.index(b'"dateTime"', 500) + 5]
    whole = cut.count(b"}")
    got = scan_stamped_integers(cut, b"value", quoted=True)
    assert got.values.tolist() == [i % 97 for i in range(whole)]
    assert got.cut is not None and f"after {whole} records" in got.cut


def test_heart_rate_with_a_huge_bpm_keeps_the_other_samples() -> None:
    raw = (
        b'[{"dateTime": "05/18/15 14:00:00", "value": {"bpm": 71, "confidence": 3}},'
        b'{"dateTime": "05/18/15 14:00:05", "value": {"bpm": 1e308, "confidence": 3}},'
        b'{"dateTime": "05/18/15 14:00:10", "value": {"bpm": 73, "confidence": 3}}]'
    )
    got = scan_stamped_integers(raw, b"bpm", quoted=False)
    assert got.values.tolist() == [71, 73] and got.dropped.count == 1
