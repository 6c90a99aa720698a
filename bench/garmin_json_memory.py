"""Memory of reading one Garmin JSON member whole, as a multiple of its size (issue 15 item 3).

``ingest.garmin.reader.MAX_JSON_BYTES`` (128 MiB) holds larger members unread
because each is parsed whole (orjson, then Arrow). This prints, for
synthetic ``UDSFile_*.json`` daily summaries of growing size (the demo's
real-shaped records, one per day), the file size, the peak resident memory
the read adds (measured in a fresh subprocess per size, ``ru_maxrss``) and
the ratio, so the bound's cost is a measured figure, not a guess.

    .venv/bin/python -m bench.garmin_json_memory
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta

CHILD = r"""
import resource, sys, time
from pathlib import Path
from ingest.contract import ReadContext
from ingest.garmin.daily_summaries import read_daily_summaries
data = Path(sys.argv[1]).read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.process_time()
result = read_daily_summaries(data, "DI_CONNECT/DI-Connect-Aggregator/UDSFile_1.json",
    ReadContext(participant_id="P01", file_id="f" * 64, path="x", timezone="UTC"))
cpu = time.process_time() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = sum(t.num_rows for t in result.tables.values())
print(before, after, cpu, rows, result.status)
"""


def _records(days: int) -> bytes:
    from pipeline.demo.garmin_files import demo_sessions_from_truth, garmin_export_members
    from tests.fitbit.helpers import worn_truth

    truth = worn_truth(datetime(2026, 3, 2), 1, "UTC", hours=(8, 20), seed=2)
    built = garmin_export_members(
        truth, demo_sessions_from_truth(truth, min_minutes=1), {}, timezone="UTC"
    )
    uds = next(v for k, v in built.items() if "UDSFile" in k)
    (template,) = json.loads(uds)[:1]
    first = date(2000, 1, 1)
    out = []
    for k in range(days):
        day = (first + timedelta(days=k)).isoformat()
        record = dict(template)
        for key, value in template.items():
            if isinstance(value, str) and value.startswith("2026-03-02"):
                record[key] = day + value[10:]
        out.append(record)
    return json.dumps(out).encode()


def main() -> None:
    import tempfile

    print("days    file MiB   peak added MiB   ratio   CPU s   rows")
    for days in (1_000, 10_000, 40_000, 150_000):
        data = _records(days)
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            f.write(data)
            f.flush()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, f.name], capture_output=True, text=True, check=True
            )
        before, after, cpu, rows, status = done.stdout.split()
        added = (int(after) - int(before)) / 1024  # ru_maxrss is KiB on Linux
        size = len(data) / 2**20
        print(
            f"{days:6d} {size:10.1f} {added:16.1f} {added / size:7.1f} {float(cpu):7.2f} {rows:>6s} {status}"
        )


if __name__ == "__main__":
    main()
