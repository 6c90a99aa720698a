"""Mutated and truncated real FIT files never make the reader raise (hypothesis)."""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.conform import conform
from config.schema import LAKE_TABLES
from ingest.contract import ReadContext
from ingest.fit.decode import decode_fit
from ingest.fit.reader import read_fit
from tests.fit.corpus import corpus_files, require_corpus

SMALL_BYTES = 20_000
"""Only small corpus files are mutated, so 200 examples stay within seconds."""


@cache
def _seeds() -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in corpus_files() if p.stat().st_size <= SMALL_BYTES)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seeds = _seeds()
    data = bytearray(seeds[draw(st.integers(0, len(seeds) - 1))])
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos:]
    return bytes(data)


@pytest.mark.skipif(not corpus_files(), reason="shared FIT corpus absent: nothing to mutate")
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated())
def test_mutated_files_never_raise_and_tables_stay_canonical(data: bytes) -> None:
    decoded = decode_fit(data)
    assert decoded.status in ("ok", "partial", "not_fit")
    assert (decoded.reason is None) == (decoded.status == "ok")
    result = read_fit(data, ReadContext("P", "f", "fuzz.fit", "Europe/Oslo"))
    assert result.status in ("ok", "partial", "quarantined", "skipped")
    if result.status != "ok":
        assert result.reason
    for name, table in result.tables.items():
        n = table.num_rows
        table = table.append_column("participant_id", pa.array(["P"] * n)).append_column(
            "file_id", pa.array(["f"] * n)
        )
        conform(table, LAKE_TABLES[name])


def test_fuzz_has_seeds() -> None:
    require_corpus()
    assert len(_seeds()) >= 10
