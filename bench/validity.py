"""How participant-weeks are classified on real-shaped data, per source.

    python -m bench.validity                 # demo study + shared FIT and Fitabase corpora
    python -m bench.validity --only demo     # one set

Each set is ingested into a fresh study folder with the default ``study.toml``
and a roster of participant ids and time zones only (no birth year, resting or
maximum heart rate), as most studies start. The weekly table is then derived
and, per source, the script prints the number of participant-weeks and the
share of them

* classified (at least one minute) by heart rate, by the device's own label,
  by cadence, and filled from device daily totals;
* whose status is ``insufficient``.

A week counts under each method that classified any of its minutes, so the
method shares can add up to more than 100 %. "Source" is the most trusted
source with rows in the week (``weekly.sources``' first entry).

Sets: ``demo`` (the synthetic demo cohort, roster reduced to ids, zones and
Fitabase ids), ``fit`` (every FIT file under ``../shared/corpus/fit``, one
participant per file, zone UTC) and ``fitabase`` (every Fitabase folder under
``../shared/corpus/fitabase``, participants from the export's own ``Id``,
zone UTC). Sets whose corpus is absent are skipped with a note.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
SETS = ("demo", "fit", "fitabase")


def _study(folder: Path, roster: pl.DataFrame):  # type: ignore[no-untyped-def]
    from config import init_study, open_study
    from config.roster import ROSTER_SCHEMA, write_roster

    init_study(folder)
    full = roster.with_columns(
        pl.lit(None, dtype).alias(name)
        for name, dtype in ROSTER_SCHEMA.items()
        if name not in roster.columns
    ).select(list(ROSTER_SCHEMA))
    write_roster(full, folder / "roster.csv")
    return open_study(folder)


def _ingest_and_derive(
    study, items: Iterable[tuple[str, list[Path]]], *, from_id: bool = False
) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    from ingest.pipeline import Ingestor
    from pipeline.jobs import derive

    ingestor = Ingestor(study, participant_from_id=from_id)
    for participant, paths in items:
        ingestor.ingest(participant, paths)
    return derive(study, None).weekly


def demo_weekly(work: Path) -> pl.DataFrame:
    from pipeline.demo.generate import generate_demo

    demo = generate_demo(work / "demo")
    roster = pl.read_csv(work / "demo" / "roster.csv", infer_schema_length=0).select(
        "participant_id", "timezone", "fitabase_id"
    )
    (work / "demo" / "study.toml").unlink()
    (work / "demo" / "roster.csv").unlink()
    study = _study(work / "demo", roster)
    items = [(p, [work / "demo" / "inbox" / p]) for p in sorted(demo.truths)]
    return _ingest_and_derive(study, items)


def fit_weekly(work: Path) -> pl.DataFrame | None:
    files = sorted(p for p in (CORPUS / "fit").rglob("*") if p.suffix.lower() == ".fit")
    if not files:
        return None
    ids = [f"F{i:03d}" for i in range(len(files))]
    study = _study(
        work / "fit", pl.DataFrame({"participant_id": ids, "timezone": ["UTC"] * len(ids)})
    )
    return _ingest_and_derive(study, [(pid, [f]) for pid, f in zip(ids, files, strict=True)])


def fitabase_weekly(work: Path) -> pl.DataFrame | None:
    folders = (
        sorted(p for p in (CORPUS / "fitabase").iterdir() if p.is_dir())
        if (CORPUS / "fitabase").is_dir()
        else []
    )
    if not folders:
        return None
    ids: set[str] = set()
    for csv in (CORPUS / "fitabase").rglob("*.csv"):
        head = pl.read_csv(csv, n_rows=100_000, infer_schema_length=0, truncate_ragged_lines=True)
        if "Id" in head.columns:
            ids |= set(head["Id"].drop_nulls().to_list())
    roster = pl.DataFrame({"participant_id": sorted(ids), "timezone": ["UTC"] * len(ids)})
    study = _study(work / "fitabase", roster)
    return _ingest_and_derive(study, [("fitabase", [f]) for f in folders], from_id=True)


def shares(weekly: pl.DataFrame) -> pl.DataFrame:
    """Per source: participant-weeks and the share classified by each method and insufficient (%)."""
    methods = pl.col("methods").fill_null("")

    def pct(condition: pl.Expr) -> pl.Expr:
        return (100.0 * condition.cast(pl.Float64).mean()).round(1)

    return (
        weekly.with_columns(
            pl.col("sources").fill_null("(none)").str.split(",").list.first().alias("source")
        )
        .group_by("source")
        .agg(
            pl.len().alias("weeks"),
            pct(methods.str.contains("heart_rate")).alias("heart_rate_%"),
            pct(methods.str.contains("device")).alias("device_label_%"),
            pct(methods.str.contains("cadence")).alias("cadence_%"),
            pct(pl.col("from_daily_totals").fill_null(0) > 0).alias("daily_totals_%"),
            pct(pl.col("status") == "insufficient").alias("insufficient_%"),
        )
        .sort("source")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", choices=SETS, action="append", help="run only this set (repeatable)"
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(SETS)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    builders = {"demo": demo_weekly, "fit": fit_weekly, "fitabase": fitabase_weekly}
    pl.Config.set_tbl_rows(50)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(200)
    tables = []
    with tempfile.TemporaryDirectory(prefix="irisin-validity-") as tmp:
        for name in chosen:
            weekly = builders[name](Path(tmp))
            if weekly is None:
                print(f"{name}: skipped, no corpus under {CORPUS}")
                continue
            print(
                f"{name}: {weekly.height} participant-weeks, {weekly['participant_id'].n_unique()} participants"
            )
            everything = weekly.with_columns(pl.lit("(all)").alias("sources"))
            tables.append(
                pl.concat([shares(weekly), shares(everything)]).select(
                    pl.lit(name).alias("set"), pl.all()
                )
            )
    if tables:
        print(pl.concat(tables))


if __name__ == "__main__":
    main()
