"""Benchmark: irisin's columnar FIT decoder against fitparse, the reference Python decoder.

    python -m bench.fit_decode [--rounds 5] [--corpus-fitparse-rounds 1] [--skip-corpus]

Times, in the same run:

(a) ``activity-large-fenxi2-multisport.fit`` (1 MB, a fenix2 multisport
    activity): ``--rounds`` paired rounds, each decoding the file once with
    ``ingest.fit.decode_fit`` (every message, all fields: scale/offset,
    components, subfields, timestamps, CRC) and once with fitparse
    (``FitFile(...).get_messages()`` fully consumed);
(b) the whole FIT corpus (``../shared/corpus/fit``), file by file: irisin
    ``--rounds`` times, then fitparse ``--corpus-fitparse-rounds`` times
    (default 1: fitparse needs minutes for the corpus on this machine), so both
    sides see the same machine load. A file fitparse cannot read counts the
    time until it gives up.

Prints messages/s (data messages), MB/s, the median of the per-round speed-ups
(fitparse time / irisin time; in (b) each irisin round's corpus total is
paired with the median fitparse total), and irisin's peak traced memory (tracemalloc, numpy
included) per file against the file's size.
(c) degenerate files (``ingest.fit.writer.degenerate_fit``: zero-field
    definitions, one-byte records; the most records per byte), 2 MB each:
    decode time and peak traced memory against ``MEMORY_FACTOR``, the
    decoder's documented bound (issue 13).
Targets (issue 8): >= 300x fitparse on (a), >= 100x over (b), peak memory
< 10x the file size on real files, < ``MEMORY_FACTOR`` on any bytes.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fitparse

from ingest.fit.decode import MEMORY_FACTOR, decode_fit
from ingest.fit.writer import degenerate_fit

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "fit"
LARGE = CORPUS / "python-fitparse" / "tests" / "files" / "activity-large-fenxi2-multisport.fit"


@dataclass
class Timing:
    seconds: list[float]
    messages: int
    size: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _irisin(data: bytes) -> int:
    return decode_fit(data).n_records


def _fitparse(data: bytes) -> int:
    count = 0
    try:
        for _ in fitparse.FitFile(data).get_messages():
            count += 1
    except Exception:  # a file fitparse cannot read: the time until it gives up
        pass
    return count


def _time(fn: Callable[[bytes], int], files: list[bytes]) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    messages = sum(fn(data) for data in files)
    return time.perf_counter() - start, messages


def _peak_ratio(data: bytes) -> float:
    gc.collect()
    tracemalloc.start()
    decode_fit(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / len(data)


def _report(label: str, irisin: Timing, fp: Timing, speedups: list[float]) -> None:
    mb = irisin.size / 1e6
    print(f"\n{label}: {mb:.2f} MB")
    print(
        f"  irisin   {irisin.median * 1e3:9.1f} ms median of {len(irisin.seconds)}"
        f"  {irisin.messages / irisin.median:12,.0f} messages/s  {mb / irisin.median:8.1f} MB/s"
    )
    print(
        f"  fitparse {fp.median * 1e3:9.1f} ms median of {len(fp.seconds)}"
        f"  {fp.messages / fp.median:12,.0f} messages/s  {mb / fp.median:8.3f} MB/s"
    )
    print(
        f"  speed-up (median of paired rounds): {statistics.median(speedups):.0f}x  (rounds: {', '.join(f'{s:.0f}' for s in speedups)})"
    )


def _degenerate(size: int = 2_000_000) -> None:
    print(f"\n(c) degenerate files, {size / 1e6:.0f} MB (bound: {MEMORY_FACTOR}x the file size)")
    for shape in ("one", "two", "compressed"):
        data = degenerate_fit(size, shape)
        seconds, records = _time(_irisin, [data])
        print(
            f"  {shape:10s} {seconds * 1e3:8.1f} ms  {records / seconds:12,.0f} records/s"
            f"  peak memory {_peak_ratio(data):5.1f}x the file size"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus-fitparse-rounds", type=int, default=1)
    parser.add_argument("--skip-corpus", action="store_true")
    args = parser.parse_args()
    if not LARGE.is_file():
        raise SystemExit(f"FIT corpus not found at {CORPUS}")

    large = [LARGE.read_bytes()]
    _time(_irisin, large)  # warm-up: profile tables, CRC tables
    ir_s, fp_s = [], []
    for _ in range(args.rounds):
        t_ir, n_ir = _time(_irisin, large)
        t_fp, n_fp = _time(_fitparse, large)
        ir_s.append(t_ir)
        fp_s.append(t_fp)
    size = len(large[0])
    _report(
        "(a) activity-large-fenxi2-multisport.fit",
        Timing(ir_s, n_ir, size),
        Timing(fp_s, n_fp, size),
        [f / i for f, i in zip(fp_s, ir_s, strict=True)],
    )
    print(f"  irisin peak memory: {_peak_ratio(large[0]):.1f}x the file size")
    _degenerate()

    if args.skip_corpus:
        return
    paths = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() == ".fit")
    files = [p.read_bytes() for p in paths]
    total = sum(len(d) for d in files)
    # file by file, irisin's rounds right next to fitparse's, so load swings on this shared
    # machine hit both sides alike
    ir_rounds = [0.0] * args.rounds
    fp_rounds = [0.0] * args.corpus_fitparse_rounds
    ir_messages = fp_messages = 0
    for data in files:
        for r in range(args.rounds):
            seconds, ir_messages_file = _time(_irisin, [data])
            ir_rounds[r] += seconds
        for r in range(args.corpus_fitparse_rounds):
            seconds, fp_messages_file = _time(_fitparse, [data])
            fp_rounds[r] += seconds
        ir_messages += ir_messages_file
        fp_messages += fp_messages_file
    fp_median = statistics.median(fp_rounds)
    _report(
        f"(b) whole corpus, {len(files)} files",
        Timing(ir_rounds, ir_messages, total),
        Timing(fp_rounds, fp_messages, total),
        [fp_median / t for t in ir_rounds],
    )
    ratios = sorted(
        ((_peak_ratio(d), p.name, len(d)) for p, d in zip(paths, files, strict=True)), reverse=True
    )
    big = [r for r in ratios if r[2] >= 100_000]
    print(
        f"  irisin peak memory, files >= 100 kB: max {big[0][0]:.1f}x ({big[0][1]}), median {statistics.median(r[0] for r in big):.1f}x"
    )
    print(
        f"  irisin peak memory, all files: max {ratios[0][0]:.1f}x ({ratios[0][1]}, {ratios[0][2]:,} bytes: fixed overhead dominates tiny files)"
    )


if __name__ == "__main__":
    main()
