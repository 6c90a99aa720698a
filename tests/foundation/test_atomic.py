"""The one atomic writer of the store: whole or nothing, durable, and the same on object storage."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from store import atomic

REPO = Path(__file__).resolve().parents[2]


def test_write_bytes_replaces_the_target_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic.write_bytes(target, b"first")
    atomic.write_text(target, "second \u00e6")
    assert target.read_text(encoding="utf-8") == "second \u00e6"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json"]


def test_the_file_and_its_folder_are_fsynced_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.bin"
    seen: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        seen.append("folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        seen.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic.write_bytes(target, b"x" * 10)
    assert seen == ["file", "rename", "folder"]
    assert target.read_bytes() == b"x" * 10


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    atomic.write_bytes(target, b"old")

    def produce(out: BinaryIO) -> None:
        out.write(b"half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic.write_with(target, produce)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_publish_moves_a_file_another_library_wrote(tmp_path: Path) -> None:
    target = tmp_path / "w.duckdb"
    done = atomic.temporary_name(target)
    assert done.parent == target.parent and done.name.endswith(atomic.TEMPORARY_SUFFIX)
    done.write_bytes(b"db")
    atomic.publish(done, target)
    assert target.read_bytes() == b"db" and not done.exists()


def test_parquet_round_trips_on_disk_and_through_a_non_local_filesystem(tmp_path: Path) -> None:
    """A ``pyarrow.fs`` filesystem other than the local one takes the object-storage path (one whole body)."""
    table = pa.table({"a": list(range(1000)), "b": ["x"] * 1000})
    atomic.write_parquet(tmp_path / "local.parquet", table, row_group_size=100)
    assert pq.read_table(tmp_path / "local.parquet").equals(table)
    assert pq.ParquetFile(tmp_path / "local.parquet").metadata.num_row_groups == 10
    remote = pafs.SubTreeFileSystem(str(tmp_path / "bucket"), pafs.LocalFileSystem())
    remote.create_dir("lake")
    assert not atomic.is_local(remote)
    atomic.write_parquet("lake/p.parquet", table, remote)
    assert pq.read_table("lake/p.parquet", filesystem=remote).equals(table)

    def produce(out: BinaryIO) -> None:
        out.write(b"PAR1")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic.write_with("lake/broken.parquet", produce, remote)
    assert not remote.get_file_info("lake/broken.parquet").is_file  # nothing was sent


WRITER = """
import sys
from store import atomic
target = sys.argv[1]
i = 0
while True:
    i += 1
    atomic.write_bytes(target, (str(i % 10) * 4_000_000).encode())
    if i == 2:
        print("ready", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.13])
def test_a_writer_killed_at_any_moment_leaves_one_whole_version(
    tmp_path: Path, delay: float
) -> None:
    target = tmp_path / "big.bin"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()  # warnings are errors: an unclosed pipe is a ResourceWarning
    data = target.read_bytes()
    assert len(data) == 4_000_000 and len(set(data)) == 1  # one whole version, never a mix
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(atomic.TEMPORARY_SUFFIX)]
    assert (
        len(leftovers) <= 1
    )  # a kill between write and rename leaves at most the one temporary file
