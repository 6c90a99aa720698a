"""Atomic writes: a file appears whole under its name, or not at all.

Every writer of the store goes through here, so "a crash at any point leaves
the store consistent" rests on one small piece of code:

* **Local disk.** The bytes go to a temporary name in the target's own folder
  (``.<name>.<random>.tmp``, so a leftover is easy to find and never mistaken
  for data), the file is fsynced, renamed over the target (atomic within one
  filesystem), and the folder is fsynced so the rename itself survives a power
  cut. A failed write removes its temporary file.
* **Object storage** (any other ``pyarrow.fs`` filesystem, e.g. S3). There is
  no rename: the body is produced in memory first and sent as one object,
  which an S3-compatible store makes visible whole or not at all (an upload
  cut short is never listed). A commit that spans several objects publishes
  by writing its commit object last: the lake writes its data parts under
  names nobody reads until the manifest part naming their batch exists.

``produce`` callbacks receive a binary file object; they must not keep it.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

TEMPORARY_SUFFIX = ".tmp"
"""Every temporary file ends so; ``recover`` and ``irisin verify`` look for it."""
_durable = True
"""Whether writes are fsynced; only ``not_durable`` (benchmark data generation) turns it off."""


@contextmanager
def not_durable() -> Iterator[None]:
    """Skip the fsyncs inside the block: for generating benchmark data fast, never for a study's store.

    The writes stay atomic against a crash of the process (rename), only not
    against a power cut.
    """
    global _durable
    before, _durable = _durable, False
    try:
        yield
    finally:
        _durable = before


def is_local(fs: pafs.FileSystem | None) -> bool:
    """Whether ``fs`` is the local disk (None means the local disk)."""
    return fs is None or isinstance(fs, pafs.LocalFileSystem)


def temporary_name(path: str | Path) -> Path:
    """A fresh temporary name beside ``path``, in the same folder (so the rename stays on one filesystem)."""
    p = Path(path)
    return p.with_name(f".{p.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")


def fsync_folder(folder: str | Path) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where folders cannot be opened)."""
    if not _durable:
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def publish(done: str | Path, target: str | Path) -> None:
    """Move a finished temporary file ``done`` (written by another library, e.g. DuckDB) over ``target``.

    The file is fsynced, renamed, and the folder fsynced; ``done`` must be in
    the target's folder.
    """
    if _durable:
        fd = os.open(done, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(done, target)
    fsync_folder(Path(target).parent)


def write_with(
    path: str | Path,
    produce: Callable[[BinaryIO], None],
    fs: pafs.FileSystem | None = None,
) -> None:
    """Write ``path`` atomically with the bytes ``produce`` writes to the file object it is given."""
    if is_local(fs):
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_name(target)
        try:
            with open(tmp, "wb") as out:
                produce(out)
                out.flush()
                if _durable:
                    os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:  # a full disk, a crash of the writer: no half-written file stays
            tmp.unlink(missing_ok=True)
            raise
        fsync_folder(target.parent)
        return
    assert fs is not None
    body = io.BytesIO()
    produce(body)  # an error here sends nothing: the object store never sees a partial body
    key = str(path)
    with fs.open_output_stream(key) as out:
        out.write(body.getbuffer())


def write_bytes(path: str | Path, data: bytes, fs: pafs.FileSystem | None = None) -> None:
    """Write ``data`` to ``path`` atomically."""

    def put(out: BinaryIO) -> None:
        out.write(data)

    write_with(path, put, fs)


def write_text(path: str | Path, text: str, fs: pafs.FileSystem | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"), fs)


def write_parquet(
    path: str | Path,
    table: pa.Table,
    fs: pafs.FileSystem | None = None,
    *,
    row_group_size: int | None = None,
) -> None:
    """Write an Arrow table as one zstd Parquet file, atomically."""
    write_with(
        path,
        lambda out: pq.write_table(table, out, compression="zstd", row_group_size=row_group_size),
        fs,
    )
