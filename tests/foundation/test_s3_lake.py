"""The lake on S3-compatible object storage (issue 17 item 4, the lake's part): same rows, same commit rules.

A ``moto`` server started on 127.0.0.1 by the test stands in for S3. The lake
reaches it through ``pyarrow.fs`` with the endpoint and credentials from the
standard ``AWS_*`` environment variables; ``store.atomic`` sends each part as
one whole object (no rename), and the manifest part is the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from bench.lake_compaction import day_batch
from store.lake import MANIFEST, Lake

moto_server = pytest.importorskip(
    "moto.server", reason="moto (dev extra) runs the local S3 endpoint"
)
boto3 = pytest.importorskip("boto3", reason="boto3 (with moto) creates the test bucket")


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket on a local S3 endpoint; yields its ``s3://`` URL."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "irisin-test",
        "AWS_SECRET_ACCESS_KEY": "irisin-test",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket="study")
    try:
        yield "s3://study/store/lake"
    finally:
        server.stop()


def fill(lake: Lake) -> None:
    for d in range(4):  # over a month boundary
        for pid in ("P01", "P02", "P03", "P04"):
            lake.write_batch(day_batch(pid, date(2025, 1, 30) + timedelta(days=d), 6))


def seen(lake: Lake) -> dict[str, pl.DataFrame]:
    out = {t: lake.scan(t).collect() for t in ("minutes", "daily_totals")}
    out[MANIFEST] = lake.manifest()
    return {k: v.sort(v.columns) for k, v in out.items()}


def test_a_lake_on_object_storage_equals_the_same_lake_on_disk(s3: str, tmp_path: Path) -> None:
    remote, local = Lake(s3), Lake(tmp_path / "lake")
    fill(remote)
    fill(local)
    for name, frame in seen(local).items():
        assert seen(Lake(s3))[name].equals(frame), name
    assert Lake(s3).committed_batches() == local.committed_batches()
    assert Lake(s3).recover() == []

    remote.compact(1)
    local.compact(1)
    assert remote.sweep() and local.sweep()
    reopened = Lake(s3)
    assert (
        reopened.file_count()
        == local.file_count()
        == len({p.parent for p in (tmp_path / "lake" / "minutes").rglob("*.parquet")}) * 5
    )
    for name, frame in seen(local).items():
        assert seen(reopened)[name].equals(frame), name
    assert reopened.recover() == [] and reopened.damaged == []


def test_an_uncommitted_part_on_object_storage_never_counts_and_recover_removes_it(s3: str) -> None:
    lake = Lake(s3)
    fill(lake)
    before = seen(Lake(s3))
    # a run killed between its data part and its manifest part: the object exists, the commit does not
    stray = f"{lake.root}/minutes/participant_id=P09/0123456789abcdef01234567.parquet"
    with lake.fs.open_input_file(lake.committed_parts("minutes")[0]) as src:
        body = src.read()
    with lake.fs.open_output_stream(stray) as out:
        out.write(body)
    assert seen(Lake(s3))["minutes"].equals(before["minutes"])
    assert Lake(s3).recover() == [stray]
    assert not lake.fs.get_file_info(stray).is_file
