"""The fast path's chunks prepared on every core: worker processes that read them from the file.

A large ``export.xml`` is CPU work that threads cannot share (polars' CSV
split is fast, but the checks, picks and minute partials around it hold the
GIL for long stretches), and its fast chunks are independent. So, for a plain
file of at least ``POOL_MIN_BYTES``, each chunk after the first goes to a
worker as ``(path, offset, length)``: the worker reads those bytes itself,
runs the same checks (``fast_scan.prepare``) and the same minute step
(``minutes.chunk_minutes``), and sends back only the chunk's minute partials,
resting heart rates, counts and any workouts' bytes. The parent takes them in
chunk order, exactly as it takes chunks read in-process, and parses the
chunks that fail a check itself, so the tables do not depend on the number of
workers.

Small files, streams that are not plain files (zip members), daemonic
processes and ``IRISIN_WORKERS=1`` stay in-process: a worker's start costs about a second of
imports. Workers are started with ``spawn`` (never ``fork``: the parent runs
polars' and Prefect's threads), run polars on one thread each, die with the
parent (``ingest.worker_process``) and are stopped when the read ends.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import IO

from ingest.apple.fast_scan import ChunkMap, Prepared, prepare
from ingest.apple.minutes import chunk_minutes
from ingest.parallel import default_workers
from ingest.worker_process import start_worker

POOL_MIN_BYTES = 32 << 20
"""Files smaller than this are read in-process (a pool's start would cost more than it saves)."""
AHEAD_PER_WORKER = 2
"""Chunks in flight per worker: keeps workers busy while the parent takes results in order."""


def prepare_at(path: str, offset: int, length: int, timezone: str | None) -> Prepared | None:
    """Worker side: read one chunk from the file and reduce it to what the parent gathers."""
    with open(path, "rb") as f:
        f.seek(offset)
        chunk = f.read(length)
    taken = prepare(chunk)
    if taken is not None and taken.payload is not None:
        taken.payload = chunk_minutes(taken.payload, True, timezone)
    return taken


def _plain_file(source: IO[bytes]) -> str | None:
    """The path of ``source`` when it is a plain file on disk, else None."""
    name = getattr(source, "name", None)
    if not isinstance(source, io.BufferedReader | io.FileIO) or not isinstance(name, str):
        return None
    try:
        same = os.path.samestat(os.fstat(source.fileno()), os.stat(name))
    except OSError:
        return None
    return name if same else None


@contextmanager
def chunk_pool(source: IO[bytes], timezone: str | None) -> Iterator[ChunkMap | None]:
    """A ``ChunkMap`` running on worker processes for the duration of a read, or None (read in-process)."""
    path = _plain_file(source)
    workers = default_workers()
    if (
        path is None
        or workers < 2
        or multiprocessing.current_process().daemon  # may not start children of its own
        or os.fstat(source.fileno()).st_size < POOL_MIN_BYTES
    ):
        yield None
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
    )

    def run(chunks: Iterable[tuple[int, bytes]]) -> Iterator[tuple[bytes, Prepared | None]]:
        window: deque[tuple[bytes, Future[Prepared | None] | None]] = deque()
        for offset, chunk in chunks:
            job = pool.submit(prepare_at, path, offset, len(chunk), timezone) if offset else None
            window.append((chunk, job))
            while len(window) > AHEAD_PER_WORKER * workers:
                done, job = window.popleft()
                yield done, job.result() if job else None
        while window:
            done, job = window.popleft()
            yield done, job.result() if job else None

    try:
        yield run
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
