"""Reading many FIT files on all cores: a pool of worker processes, started on first use.

FIT files are independent, and decoding them is CPU work that threads cannot
share (the GIL serialises the numpy glue between decoder steps), so a
participant's or a shard's new FIT files are read in worker processes, a
chunk of files per task. Workers only read: bytes and the participant's time
zone go in, ``ReadResult``s come back, and the parent commits them to the lake
in file order, so the lake is the same whatever the number of workers.

Small reads stay in the calling process until the pool is started (a
backfill starts it up front): starting a worker costs about a second of
imports, more than reading a few dozen files.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import replace
from types import TracebackType

import pyarrow as pa

from ingest.contract import ReadContext, ReadResult

FILES_PER_TASK = 48
"""FIT files sent to a worker at a time: large enough that pickling is a small share, small
enough that a participant's year is spread over every worker."""
MIN_FILES_FOR_POOL = 96
"""Fewer new FIT files than this are read in the calling process."""
WORKERS_ENV = "IRISIN_WORKERS"
"""Environment override of the number of reader processes (``1`` reads in the calling process)."""

FORKSERVER_GUARD = "ingest.forkserver_guard"
"""Module the fork server imports first, so that it ends with the run that started it."""

FitRead = Callable[[Sequence[tuple[bytes, ReadContext]]], list[ReadResult]]
"""A batch FIT reader: results in job order."""


def default_workers() -> int:
    """Reader processes: ``IRISIN_WORKERS`` when set, else the cores this process may use."""
    override = os.environ.get(WORKERS_ENV, "").strip()
    if override:
        try:
            return max(1, int(override))
        except ValueError:
            raise ValueError(
                f"{WORKERS_ENV}={override!r}: expected a whole number of processes"
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_WORKER_CPU_S = [0.0]
"""CPU seconds the workers of every pool of this process spent reading (for benchmarks)."""


def worker_cpu_seconds() -> float:
    """CPU seconds spent in reader workers so far by all pools of this process."""
    return _WORKER_CPU_S[0]


Packed = tuple[
    list[ReadResult], dict[tuple[str, int], pa.Table], list[list[tuple[str, int, int, int]]]
]
"""A chunk's results with their tables taken out, the tables joined per (name, shape), and per result
``(name, shape, offset, rows)`` of each of its tables in the joined ones."""


def pack(results: list[ReadResult]) -> Packed:
    """The results of a chunk with their tables joined per table name and shape, for one cheap pickle.

    Pickling a zero-copy slice of an Arrow table ships its parent's whole
    buffers, and pickling hundreds of small tables costs more than reading
    them; so tables of one name and schema are concatenated into one
    contiguous table and each result keeps where its rows are.
    """
    shapes: dict[tuple[str, pa.Schema], int] = {}
    parts: dict[tuple[str, int], list[pa.Table]] = {}
    sizes: dict[tuple[str, int], int] = {}
    where: list[list[tuple[str, int, int, int]]] = []
    stripped: list[ReadResult] = []
    for res in results:
        mine = []
        for name, table in res.tables.items():
            shape = shapes.setdefault((name, table.schema), len(shapes))
            key = (name, shape)
            offset = sizes.get(key, 0)
            parts.setdefault(key, []).append(table)
            sizes[key] = offset + table.num_rows
            mine.append((name, shape, offset, table.num_rows))
        where.append(mine)
        stripped.append(replace(res, tables={}))
    joined = {key: pa.concat_tables(ts).combine_chunks() for key, ts in parts.items()}
    return stripped, joined, where


def unpack(packed: Packed) -> list[ReadResult]:
    """The results of ``pack``, each table a zero-copy slice of the joined ones."""
    stripped, joined, where = packed
    out = []
    for res, mine in zip(stripped, where, strict=True):
        tables = {
            name: joined[(name, shape)].slice(offset, rows) for name, shape, offset, rows in mine
        }
        out.append(replace(res, tables=tables))
    return out


def _start_worker() -> None:
    """A reader worker's first step: it ends with its parent, and never needs pandas (``ingest.lean_imports``)."""
    from ingest.lean_imports import skip_pandas_probe
    from ingest.worker_process import exit_when_parent_gone

    exit_when_parent_gone()
    skip_pandas_probe()


def _read_chunk(jobs: list[tuple[bytes, ReadContext]]) -> tuple[Packed, float]:
    """Worker side: read a chunk of FIT files with the pipeline's guarded batch reader; also the CPU seconds it took."""
    from ingest.pipeline import read_fits_guarded

    started = time.process_time()
    results = pack(read_fits_guarded(jobs))
    return results, time.process_time() - started


def slim(ctx: ReadContext) -> ReadContext:
    """The context a FIT read needs (its participant's zone), without the roster-wide maps."""
    return replace(ctx, zones={}, id_map={})


class ReaderPool:
    """Worker processes for FIT reads, shared by the threads of one run; ``close()`` stops them.

    Workers are started with ``forkserver`` (never plain ``fork``: the parent
    runs Prefect's and polars' threads, which a forked child would inherit
    mid-lock).
    """

    def __init__(self, workers: int | None = None, *, min_files: int = MIN_FILES_FOR_POOL) -> None:
        self.workers = default_workers() if workers is None else max(1, workers)
        self.min_files = min_files
        self._executor: Executor | None = None
        self._guard = threading.Lock()

    def _pool(self) -> Executor:
        with self._guard:
            if self._executor is None:
                method = (
                    "forkserver"
                    if "forkserver" in multiprocessing.get_all_start_methods()
                    else "spawn"
                )
                context = multiprocessing.get_context(method)
                if method == "forkserver":
                    # The server, too, ends with the run (set before it first starts).
                    context.set_forkserver_preload(["__main__", FORKSERVER_GUARD])
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=context,
                    initializer=_start_worker,
                )
            return self._executor

    def read_fits(
        self, jobs: Sequence[tuple[bytes, ReadContext]], read: FitRead
    ) -> list[ReadResult]:
        """Read every ``(bytes, context)`` job; results in job order. ``read`` serves small batches in-process."""
        if self.workers == 1 or not jobs or (len(jobs) < self.min_files and self._executor is None):
            return read(jobs)
        per_task = min(FILES_PER_TASK, -(-len(jobs) // self.workers))  # every worker gets a share
        chunks = [
            [(data, slim(ctx)) for data, ctx in jobs[k : k + per_task]]
            for k in range(0, len(jobs), per_task)
        ]
        results: list[ReadResult] = []
        for part, cpu_s in self._pool().map(_read_chunk, chunks):
            results += unpack(part)
            with self._guard:
                _WORKER_CPU_S[0] += cpu_s
        return results

    def start(self) -> None:
        """Start the workers now (a backfill that will read many files): later reads of any size use them."""
        if self.workers > 1:
            self._pool()

    def close(self) -> None:
        with self._guard:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
