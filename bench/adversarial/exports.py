"""Malformed Fitbit Takeout (JSON, CSV), Fitabase and Garmin JSON exports: literal defects and seeded fuzz.

Each family's real-shaped export (the demo writers, two days worn) is read
whole by its reader with one file damaged. The literal defects are those of
issue 15 items 1-2: a file holding ``[]`` (or only its header), a 0-byte
file, one ``1e308``, one 20-digit value, a byte-order mark, a file cut
mid-record, every record written twice, one negative value, 50 unreadable
values, heart-rate samples alternating 0 and 300 bpm, and one 300 bpm sample. Nine seeded fuzz
mutations per family (``tests/foundation/test_reader_fuzz.py``'s) follow.

*Good records lost*: rows of sibling files that did not come back equal in
number, plus, for a literal defect, rows of the damaged file beyond the
records the defect itself spoiled (``allowance``). The damaged file's own
loss is not judged for a cut or a fuzz case (where the damage goes is not
known).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from bench.adversarial.figures import AreaFigures
from ingest.contract import Member, ReadResult
from tests.foundation import test_reader_fuzz as fuzz

FAMILIES = ("takeout_json", "takeout_csv", "fitabase", "garmin")
FUZZ_PER_FAMILY = 9
NUMBER = re.compile(rb"(?<![\d/:.-])\d{1,4}(?![\d/:.-])")
COUNTED = ("samples_implausible_dropped", "times_implausible_dropped", "records_dropped")
HR_VALUE = {"takeout_json": rb'("bpm" : )(\d+)', "fitabase": rb"(,)(\d+)(?=\r?\n)"}


def _numbers(data: bytes) -> list[tuple[int, int]]:
    return [m.span() for m in NUMBER.finditer(data)]


def _replace_at(data: bytes, spans: list[tuple[int, int]], values: list[bytes]) -> bytes:
    out = bytearray(data)
    for (a, b), value in sorted(zip(spans, values, strict=True), reverse=True):
        out[a:b] = value
    return bytes(out)


def _one(value: bytes) -> Callable[[bytes], tuple[bytes, int | None]]:
    def mutate(data: bytes) -> tuple[bytes, int | None]:
        spans = _numbers(data)
        if not spans:
            return data, 0
        return _replace_at(data, [spans[len(spans) // 2]], [value]), 1

    return mutate


def _fifty_unreadable(data: bytes) -> tuple[bytes, int | None]:
    spans = _numbers(data)
    picked = spans[:: max(1, len(spans) // 50)][:50]
    return _replace_at(data, picked, [b"n/a"] * len(picked)), len(picked)


def _twice(data: bytes) -> tuple[bytes, int | None]:
    text = data.strip()
    if text.startswith(b"["):
        records = json.loads(text)
        return json.dumps(records + records, indent=1).encode(), 0
    header, _, body = data.partition(b"\n")
    return header + b"\n" + body + body, 0


def _emptied(data: bytes) -> tuple[bytes, int | None]:
    if data.lstrip().startswith((b"[", b"{")):
        return b"[]", None
    return data.partition(b"\n")[0] + b"\n", None  # header only


LITERAL: dict[str, Callable[[bytes], tuple[bytes, int | None]]] = {
    "[] / header only": _emptied,
    "0 bytes": lambda d: (b"", None),
    "one 1e308": _one(b"1e308"),
    "one 20-digit value": _one(b"12345678901234567890"),
    "byte-order mark": lambda d: (b"\xef\xbb\xbf" + d, 0),
    "cut mid-record": lambda d: (d[: len(d) * 2 // 3 + 3], None),
    "every record twice": _twice,
    "one negative value": _one(b"-7"),
    "50 unreadable values": _fifty_unreadable,
}
"""Defect -> mutation giving the damaged bytes and how many records it spoils (None: not judged)."""


def _alternating_hr(family: str) -> Callable[[bytes], tuple[bytes, int | None]] | None:
    pattern = HR_VALUE.get(family)
    if pattern is None:
        return None

    def mutate(data: bytes) -> tuple[bytes, int | None]:
        k = 0

        def swap(m: re.Match[bytes]) -> bytes:
            nonlocal k
            k += 1
            if k % 2:  # every other sample stays real, so each minute keeps its true samples
                return m.group(0)
            return m.group(1) + (b"0" if k % 4 else b"300")

        return re.sub(pattern, swap, data), 0

    return mutate


def _one_hr(family: str) -> Callable[[bytes], tuple[bytes, int | None]]:
    pattern = HR_VALUE[family]

    def mutate(data: bytes) -> tuple[bytes, int | None]:
        return re.sub(pattern, lambda m: m.group(1) + b"300", data, count=1), 0

    return mutate


def _rows(result: ReadResult) -> int:
    return sum(t.num_rows for t in result.tables.values())


def _counted(result: ReadResult) -> int:
    return sum(int(result.notes.get(k, 0) or 0) for k in COUNTED)


def _impossible_landed(results: dict[str, ReadResult]) -> int:
    bad = 0
    for r in results.values():
        minutes = r.tables.get("minutes")
        if minutes is None or minutes.num_rows == 0:
            continue
        frame = pl.from_arrow(minutes)
        assert isinstance(frame, pl.DataFrame)
        if "steps" in frame.columns:
            bad += frame.filter(pl.col("steps") < 0).height
        if "heart_rate_bpm" in frame.columns:
            bad += frame.filter(~pl.col("heart_rate_bpm").is_between(20, 220)).height
    return bad


def _victim(
    members: list[Member], recognised: Callable[[str], bool], family: str, hr: bool
) -> Member:
    targets = [m for m in members if recognised(m.path)]
    if hr:
        return next(m for m in targets if "heart" in m.path.lower())
    return max(targets, key=lambda m: m.size)


def run(folder: Path) -> AreaFigures:
    fig = AreaFigures("Fitbit / Fitabase / Garmin exports")
    for family in FAMILIES:
        members, read, recognised = fuzz._family(family, str(folder / family))
        clean = read(members)
        cases: list[tuple[str, Member, bytes, int | None]] = []
        for label, mutate in LITERAL.items():
            victim = _victim(members, recognised, family, hr=False)
            damaged, allowance = mutate(victim.load())
            cases.append((label, victim, damaged, allowance))
        alternating = _alternating_hr(family)
        if alternating is not None:
            victim = _victim(members, recognised, family, hr=True)
            damaged, allowance = alternating(victim.load())
            cases.append(("HR alternating 0/300 bpm", victim, damaged, allowance))
            damaged, allowance = _one_hr(family)(victim.load())
            cases.append(("one 300 bpm sample", victim, damaged, allowance))
        rng = np.random.default_rng(fuzz.SEED + 1)
        targets = [m for m in members if recognised(m.path)]
        for _ in range(FUZZ_PER_FAMILY):
            victim = targets[int(rng.integers(0, len(targets)))]
            cases.append(("fuzz", victim, fuzz._mutate(victim.load(), rng), None))
        for label, victim, damaged, allowance in cases:
            fig.cases += 1
            case = [
                Member(m.path, len(damaged), lambda d=damaged: d) if m is victim else m
                for m in members
            ]  # type: ignore[misc]
            try:
                results = read(case)
            except Exception as error:  # the figure: nothing may escape a reader
                fig.crashed(f"{family} {label} in {victim.path}", error)
                continue
            got = results[victim.path]
            fig.outcomes[got.status] += 1
            fig.impossible_counted += sum(_counted(r) for r in results.values())
            landed = _impossible_landed(results)
            if landed:
                fig.outcomes["impossible values landed"] += landed
            lost = sum(
                max(0, _rows(clean[p]) - _rows(r))
                for p, r in results.items()
                if p != victim.path and p in clean
            )
            if allowance is not None:
                lost += max(0, _rows(clean[victim.path]) - allowance - _rows(got))
            fig.good_lost += lost
            if lost and len(fig.loss_examples) < 8:
                fig.loss_examples.append(
                    f"{family} {label} in {victim.path}: {lost} good rows lost "
                    f"({got.status}: {got.reason})"
                )
    return fig
