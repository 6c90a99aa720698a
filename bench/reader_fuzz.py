"""Adversarial figures for the readers (issue 15): the seeded fuzz test's cases, counted.

Replays ``tests/foundation/test_reader_fuzz.py``'s mutations (same seed) of
each export family and prints, per family: cases, exceptions raised, the
damaged file's outcome, rows lost in sibling files (should be 0) and rows
the damaged file kept against its clean read.

    .venv/bin/python -m bench.reader_fuzz
"""

from __future__ import annotations

import tempfile

import numpy as np

from ingest.contract import Member, ReadResult
from tests.foundation import test_reader_fuzz as fuzz


def _rows(result: ReadResult) -> int:
    return sum(t.num_rows for t in result.tables.values())


def main() -> None:
    for name in ("takeout_json", "takeout_csv", "fitabase", "garmin"):
        members, read, recognised = fuzz._family(name, tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
        clean = read(members)
        rng = np.random.default_rng(fuzz.SEED)
        targets = [m for m in members if recognised(m.path)]
        statuses: dict[str, int] = {}
        raised = sibling_lost = kept = before = 0
        for _ in range(fuzz.CASES_PER_FAMILY):
            victim = targets[int(rng.integers(0, len(targets)))]
            damaged = fuzz._mutate(victim.load(), rng)
            case = [
                Member(m.path, len(damaged), lambda d=damaged: d) if m is victim else m
                for m in members
            ]  # type: ignore[misc]
            try:
                results = read(case)
            except Exception:  # counted: the figure the fuzz test requires to be 0
                raised += 1
                continue
            status = results[victim.path].status
            statuses[status] = statuses.get(status, 0) + 1
            sibling_lost += sum(
                max(0, _rows(clean[p]) - _rows(r))
                for p, r in results.items()
                if p != victim.path and p in clean
            )
            before += _rows(clean[victim.path])
            kept += min(_rows(clean[victim.path]), _rows(results[victim.path]))
        print(
            f"{name:13s} cases {fuzz.CASES_PER_FAMILY}  raised {raised}  damaged file {statuses}  "
            f"sibling rows lost {sibling_lost}  damaged-file rows kept {kept}/{before}"
        )


if __name__ == "__main__":
    main()
