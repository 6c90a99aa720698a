"""Benchmark: ``irisin ingest`` of the shared FIT corpus end to end, against fitparse decoding the same files.

    python -m bench.fit_corpus_ingest [--rounds 1]

Both sides run in a fresh Python process each, so start-up and imports count:

* irisin: ``irisin ingest`` into a new study of a folder holding a copy of
  every ``.fit`` file of ``../shared/corpus/fit`` (hash, decode, canonical
  tables, quarantine of the files it cannot read, lake commit);
* fitparse: a process that imports fitparse and reads every message of the
  same files (a file it cannot read counts the time until it gives up).

Prints wall and CPU seconds of each process (CPU: user + system of the child
and its children, which the machine's load distorts far less than wall time)
and the ratio fitparse / irisin. Target (issue 17): at least 30x. Skips with a
message when the corpus is absent.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS_FIT = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "fit"

FITPARSE = """
import sys
from pathlib import Path
import fitparse
read = failed = 0
for path in sorted(Path(sys.argv[1]).iterdir()):
    try:
        for _ in fitparse.FitFile(str(path)).get_messages():
            pass
        read += 1
    except Exception:
        failed += 1
print(read, failed)
"""


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of a child process (and its children), and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _study(root: Path, files: list[Path]) -> Path:
    """A new study with a roster of one participant, and the corpus files copied into ``drop/``."""
    from config.layout import default_study_toml

    root.mkdir(parents=True)
    (root / "study.toml").write_text(default_study_toml(), encoding="utf-8")
    (root / "roster.csv").write_text("participant_id,timezone\nP01,Europe/Oslo\n", encoding="utf-8")
    drop = root / "drop"
    drop.mkdir()
    for k, f in enumerate(files):
        shutil.copyfile(f, drop / f"{k:03d}-{f.name}")
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fit_corpus_ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each side (best CPU kept)")
    args = parser.parse_args(argv)
    files = sorted(p for p in CORPUS_FIT.rglob("*") if p.suffix.lower() == ".fit")
    if not files:
        print(f"skipped: the shared FIT corpus is not at {CORPUS_FIT.resolve()}")
        return
    size = sum(f.stat().st_size for f in files)
    load = os.getloadavg()
    print(
        f"corpus: {len(files)} FIT files, {size / 1e6:.1f} MB; machine: {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    irisin_runs, fitparse_runs = [], []
    with tempfile.TemporaryDirectory(prefix="irisin-corpus-") as tmp:
        for r in range(args.rounds):
            study = _study(Path(tmp) / f"study-{r}", files)
            cmd = [sys.executable, "-c", "from irisin.cli import main; main()", "ingest"]
            cmd += ["--study", str(study)]
            irisin_runs.append(_run([*cmd, "-p", "P01", str(study / "drop")], env))
            fitparse_runs.append(_run([sys.executable, "-c", FITPARSE, str(study / "drop")], env))
        from config import open_study
        from pipeline.jobs import lake_of

        lake = lake_of(open_study(Path(tmp) / "study-0"))
        manifest = lake.manifest()
        statuses = manifest.group_by("status").len().sort("status").rows()
        minutes = lake.scan("minutes").collect().height
    i_wall, i_cpu, _ = min(irisin_runs, key=lambda x: x[1])
    f_wall, f_cpu, out = min(fitparse_runs, key=lambda x: x[1])
    read, failed = out.split()
    print(
        f"irisin ingest (fresh process): {i_wall:.2f} s wall, {i_cpu:.2f} s CPU; "
        f"manifest {', '.join(f'{n} {s}' for s, n in statuses)}; {minutes:,} minute rows"
    )
    print(
        f"fitparse (fresh process):      {f_wall:.2f} s wall, {f_cpu:.2f} s CPU; "
        f"{read} files read whole, {failed} it could not read"
    )
    print(
        f"fitparse / irisin: {f_cpu / i_cpu:.1f}x in CPU time, {f_wall / i_wall:.1f}x in wall time "
        "(target >= 30x)"
    )


if __name__ == "__main__":
    main()
