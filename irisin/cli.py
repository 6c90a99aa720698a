"""``irisin``: the command line. Every error is one clear line and a non-zero exit.

Library errors become friendly messages only here, at the edge; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer

app = typer.Typer(
    name="irisin",
    help="Wearable data to weekly minutes of moderate-to-vigorous activity, scored against the protective hour.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])

StudyOpt = Annotated[
    Path, typer.Option("--study", "-s", help="Study folder (made by 'irisin init').")
]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait", help="Seconds to wait while another run holds the study (0: refuse at once)."
    ),
]
"""``--wait`` of every command that takes the study lock itself."""


def _locked(study: Any, command: str, wait: float) -> Any:
    """The study lock for ``command``, waiting up to ``wait`` seconds and saying so on stderr."""
    from pipeline.lock import study_lock

    return study_lock(study, command, wait_seconds=wait, on_wait=lambda m: typer.echo(m, err=True))


def _derive_and_publish(
    study: Any, report: Any, on_publish: Callable[[], None] | None = None
) -> None:
    """Derive the weeks a run's new files touched and refresh the warehouse (nothing new: nothing done)."""
    from pipeline.jobs import derive, publish, touched_weeks_of

    if report.new_files:
        derive(study, touched_weeks_of(study, report))
        if on_publish is not None:
            on_publish()
        publish(study)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def friendly(fn: F) -> F:
    """Turn expected failures into one line and exit status 2 (1 for storage errors)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from config import ConfigError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as e:
            if _state["debug"]:
                raise
            if isinstance(e, ConfigError | FileNotFoundError | ValueError | KeyError):
                raise _fail(str(e)) from None
            if (
                type(e).__name__ == "StudyBusyError"
            ):  # another run holds the study: try later (EX_TEMPFAIL)
                raise _fail(str(e), 75) from None
            if isinstance(e, OSError):
                raise _fail(f"cannot write the store: {e}", 1) from None
            raise _fail(
                f"{type(e).__name__}: {e} (run with --debug for the traceback)", 1
            ) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    _state["debug"] = debug


@app.command()
@friendly
def init(folder: Annotated[Path, typer.Argument(help="Folder to create the study in.")]) -> None:
    """Create a study folder with a commented default study.toml and an empty roster.

    Example: irisin init ./my-study
    """
    from config import init_study

    study = init_study(folder)
    typer.echo(
        f"created {study.paths.study_toml}, {study.paths.roster_csv} and {study.paths.inbox}/"
    )
    typer.echo(
        "next: list participants in roster.csv (participant_id,timezone) and put raw files in inbox/<participant_id>/"
    )


@app.command()
@friendly
def check(study_dir: StudyOpt) -> None:
    """Validate study.toml and roster.csv and print the resolved configuration hash.

    Example: irisin check --study ./my-study
    """
    from config import open_study

    study = open_study(study_dir)
    typer.echo(
        f"ok: {study.roster.height} participants, config_hash {study.inputs_hash()} "
        f"(study.toml and roster: what results depend on; settings_hash {study.config.hash()} covers study.toml alone)"
    )
    from config import ConfigError
    from store.objects import describe_store

    try:
        typer.echo(describe_store(study.config.store.url, study.root))
    except OSError as exc:
        raise ConfigError(str(exc)) from None
    from pipeline.validity import data_quality_notes

    for note in data_quality_notes(study):
        typer.echo(f"note: {note}")
    unlisted = study.config.intensity.unlisted_sources
    if unlisted:
        typer.echo(
            f"note: study.toml [intensity] source_precedence does not list {', '.join(unlisted)}; "
            "they count after the listed sources (add them to set their order)"
        )


@app.command()
@friendly
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or zips to ingest.")],
    study_dir: StudyOpt,
    participant: Annotated[
        str | None,
        typer.Option(
            "--participant",
            "-p",
            help="Participant the files belong to (optional with --participant-from-id).",
        ),
    ] = None,
    participant_from_id: Annotated[
        bool,
        typer.Option(
            "--participant-from-id", help="Use a Fitabase export's own Id as participant id."
        ),
    ] = False,
    wait: WaitOpt = 3600.0,
) -> None:
    """Read raw device files into the study's lake (idempotent: known bytes are skipped).

    Bad files are quarantined with their reason; the rest lands. Exit status 0
    whenever every file was handled.

    Example: irisin ingest --study ./my-study --participant P01 ~/Downloads/takeout.zip
    """
    from config import open_study
    from ingest.pipeline import FROM_ID_ONLY
    from pipeline.stopping import EXIT_TERMINATED, Terminated, stop_on_sigterm

    if participant is None and not participant_from_id:
        raise _fail("name the participant: --participant P (or --participant-from-id for Fitabase)")
    who = participant if participant is not None else FROM_ID_ONLY
    study = open_study(study_dir)
    try:
        with stop_on_sigterm():
            _ingest_locked(study, paths, who, participant_from_id, wait)
    except Terminated:
        raise _fail(
            "stopped by SIGTERM; what was committed stays, nothing half-written is kept, "
            "and the next run under the study lock completes the rest",
            EXIT_TERMINATED,
        ) from None


def _ingest_with_bar(study: Any, ingestor: Any, participant: str, paths: list[Path]) -> Any:
    """Ingest every path, derive and publish, under one progress bar on a terminal.

    The bar's totals are every file of every path; it moves as each file is
    read (a folder's files one by one), then shows derive and publish.
    """
    from ingest.pipeline import IngestReport
    from pipeline.jobs import files_under
    from pipeline.progress import ProgressBar, RunProgress, size_of

    every = [f for p in paths for f in (files_under(p) if p.is_dir() else [p])]
    report = IngestReport()
    with ProgressBar(RunProgress(len(every), size_of(every)), title="ingest") as bar:
        ingestor.progress = bar.advance
        try:
            for path in paths:
                report.extend(ingestor.ingest_one(participant, path))
        finally:
            ingestor.progress = None
        if report.new_files:
            bar.enter("derive")
            _derive_and_publish(study, report, on_publish=lambda: bar.enter("publish"))
    return report


def _ingest_locked(
    study: Any, paths: list[Path], participant: str, participant_from_id: bool, wait: float
) -> None:
    from ingest.pipeline import Ingestor
    from pipeline.jobs import damage_outcomes, recover_store

    with _locked(study, "irisin ingest", wait):
        ingestor = Ingestor(study, participant_from_id=participant_from_id)
        recover_store(study, ingestor.lake)
        for o in damage_outcomes(study, ingestor.lake):
            typer.echo(f"warning: {o.path}: {o.reason}", err=True)
        report = _ingest_with_bar(study, ingestor, participant, paths)
        for (kind, status), n in sorted(report.counts().items()):
            typer.echo(f"{n:6d}  {kind:32s} {status}")
        for o in report.outcomes:
            if o.new and o.status == "partial":
                typer.echo(f"  {o.status}: {o.path}: {o.reason}")
        from pipeline.intake_report import export_lines, file_counts, unreadable

        inputs = [str(p) for p in paths]
        for line in export_lines(report, inputs):
            typer.echo(line)
        known = len(report.outcomes) - report.new_files + report.known_members
        typer.echo(f"{report.new_files} new file(s), {known} already ingested")
        typer.echo(f"seen: {file_counts(report.outcomes, report.known_members).line()}")
        for u in unreadable(report, inputs):
            typer.secho(
                f"warning: needs attention: nothing in {u.folder} could be read for {u.participant_id} "
                f"({u.files} file(s)): {u.reason}",
                err=True,
                fg=typer.colors.YELLOW,
            )


@app.command()
@friendly
def forget(
    study_dir: StudyOpt,
    file_id: Annotated[
        str | None,
        typer.Option("--file", help="File id (or a unique prefix of 8+ characters) to forget."),
    ] = None,
    participant: Annotated[
        str | None,
        typer.Option("--participant", "-p", help="Forget every file of this participant."),
    ] = None,
    wait: WaitOpt = 3600.0,
) -> None:
    """Retire what a file (or a participant's files) wrote, so the next run ingests it afresh.

    For a file filed under the wrong participant: forget it, move the raw file
    to the right inbox folder (or 'irisin ingest' it for the right
    participant), and run again. Raw files are never touched; the lake keeps
    the retired rows as history, marked.

    Example: irisin forget --study ./my-study --participant ZZ99
    """
    from config import open_study
    from pipeline.forget import forget as forget_files
    from pipeline.jobs import derive, lake_of, publish, recover_store

    if (file_id is None) == (participant is None):
        raise _fail("name exactly one of --file FILE_ID or --participant P")
    study = open_study(study_dir)
    with _locked(study, "irisin forget", wait):
        lake = lake_of(study)
        recover_store(study, lake)
        done = forget_files(lake, file_id=file_id, participant=participant)
        typer.echo(
            f"retired {done.rows} manifest row(s) of {done.files} file(s) of "
            f"{', '.join(done.participants)}; the next run ingests them afresh (raw files untouched)"
        )
        inbox = str(study.paths.inbox)
        for path in done.raw_paths:
            if path.startswith(inbox) and Path(path).exists():
                typer.echo(f"  still in the inbox (read again there unless moved): {path}")
        import polars as pl

        derive(study, pl.DataFrame(schema={"participant_id": pl.String(), "week_start": pl.Date()}))
        publish(study)


@app.command()
@friendly
def reprocess(
    study_dir: StudyOpt,
    participant: Annotated[
        str | None, typer.Option("--participant", "-p", help="Only this participant's files.")
    ] = None,
    status: Annotated[
        str,
        typer.Option("--status", help="Which files: comma-separated skipped,quarantined,partial."),
    ] = "skipped,quarantined,partial",
    wait: WaitOpt = 3600.0,
) -> None:
    """Read skipped, quarantined or partial files again now (after a fix, a new limit or a new reader).

    A file read again replaces its old rows (retired, kept as history); the
    nightly does the same by itself when a reader version or a setting that
    decided a file changes.

    Example: irisin reprocess --study ./my-study --status quarantined
    """
    from config import open_study
    from ingest.pipeline import Ingestor
    from pipeline.forget import parse_statuses
    from pipeline.forget import reprocess as reprocess_files
    from pipeline.intake_report import export_lines
    from pipeline.jobs import recover_store

    statuses = parse_statuses(status)
    study = open_study(study_dir)
    with _locked(study, "irisin reprocess", wait):
        ingestor = Ingestor(study)
        recover_store(study, ingestor.lake)
        done = reprocess_files(
            study,
            ingestor,
            participants=None if participant is None else [participant],
            statuses=statuses,
        )
        for line in export_lines(
            done.report, sorted({o.path.split("!/", 1)[0] for o in done.report.outcomes})
        ):
            typer.echo(line)
        for path in done.missing:
            typer.secho(
                f"warning: {path}: no longer there; its rows stay as they were",
                err=True,
                fg=typer.colors.YELLOW,
            )
        typer.echo(
            f"{done.files} file(s) read again, {done.report.new_files} manifest row(s) written"
        )
        _derive_and_publish(study, done.report)


EXPORTABLE = ("minutes", "daily_totals", "sessions", "profiles", "files", "weekly")


@app.command()
@friendly
def export(
    table: Annotated[
        str,
        typer.Argument(
            help=f"One of: {', '.join(EXPORTABLE)}, or omh (Open mHealth, --out is a folder)."
        ),
    ],
    study_dir: StudyOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file, .csv or .parquet.")],
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait while another run holds the study, when the weekly table must be derived first.",
        ),
    ] = 3600.0,
) -> None:
    """Write a canonical table or the weekly table to CSV or Parquet, or Open mHealth data points.

    Only reads the study, except when the weekly table does not exist yet: it is
    then derived under the study lock, like every command that writes the store.

    Example: irisin export weekly --study ./demo-study --out weekly.csv
    Example: irisin export omh --study ./demo-study --out ./omh  (OUT/<participant>/step-count.jsonl, ...)
    """
    import polars as pl

    from config import open_study
    from config.schema import WEEKLY_EXPORT_COLUMNS
    from pipeline.jobs import lake_of, weekly_for_reading

    def weekly_table() -> pl.DataFrame:
        return weekly_for_reading(
            study, wait_seconds=wait, on_wait=lambda m: typer.echo(m, err=True)
        )

    study = open_study(study_dir)
    if table == "omh":  # Open mHealth data points, one folder per participant (issue 19)
        from pipeline.omh.export import export_omh

        counts = export_omh(study, out, weekly_table())
        typer.echo(
            f"wrote {sum(counts.values())} Open mHealth data points to {out} ({dict(sorted(counts.items()))})"
        )
        return
    if table not in EXPORTABLE:
        raise _fail(f"unknown table {table!r}; choose one of {', '.join(EXPORTABLE)}")
    if out.suffix not in (".csv", ".parquet"):
        raise _fail(f"{out}: the output must end in .csv or .parquet")
    if table == "weekly":
        frame = weekly_table().select(WEEKLY_EXPORT_COLUMNS).sort("participant_id", "week_start")
    elif table == "files":
        frame = lake_of(study).manifest().drop("batch_id").sort("participant_id", "path")
    else:
        frame = lake_of(study).scan(table).collect()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        from store.sheets import write_safe_csv  # text starting with "=" etc. is written as text

        write_safe_csv(
            frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%SZ")), out
        )
    else:
        frame.write_parquet(out)
    typer.echo(f"wrote {frame.height} rows to {out}")


@app.command()
@friendly
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo study.")] = Path(
        "demo-study"
    ),
    seed: Annotated[
        int, typer.Option(help="Random seed (the same seed writes the same files).")
    ] = 20180101,
) -> None:
    """Generate the synthetic demo study (15 participants, 8 weeks, several formats and zones).

    Example: irisin demo --out ./demo-study && irisin nightly --study ./demo-study
    """
    from pipeline.demo.generate import generate_demo

    result = generate_demo(out, seed=seed)
    from pipeline.intake_report import archive_members_on_disk
    from pipeline.jobs import files_under

    files = files_under(out / "inbox")  # counted as the nightly and the backfill count them
    typer.echo(
        f"demo study in {result.root}: {len(result.truths)} participants, {len(files)} raw files "
        f"on disk, {archive_members_on_disk(files)} archive members"
    )
    typer.echo(f"expected weekly table: {out / 'truth' / 'weekly.csv'}")


def _prefect_env(study_dir: Path, *, set_aside_corrupt_database: bool = True) -> None:
    """Check the study, then set Prefect's environment; a bad study fails here, before Prefect is imported or started.

    ``verify`` and ``repair`` pass ``set_aside_corrupt_database=False``: the first only
    reports, the second moves the database aside itself and says so.
    """
    from config import open_study

    open_study(study_dir)  # the same one-line error and exit 2 as 'irisin check', in well under 2 s
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_HOME", str((study_dir / ".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The ephemeral API server runs in a subprocess; at exit it cancels its event
    # recorder mid-flush and logs that as errors after the run is already recorded.
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    if not set_aside_corrupt_database:
        return
    from pipeline.repair import set_aside_corrupt_prefect_database

    aside = set_aside_corrupt_prefect_database(Path(os.environ["PREFECT_HOME"]) / "prefect.db")
    if aside is not None:  # a corrupt database would make the run wait for the API server and fail
        typer.secho(
            f"warning: the Prefect database was corrupt; moved aside to {aside}",
            err=True,
            fg=typer.colors.YELLOW,
        )


def _print_result(result: dict[str, Any] | None, study_dir: Path) -> None:
    if result and result.get("summary"):
        typer.echo(result["summary"])
    typer.echo(
        f"results: {study_dir / 'store' / 'warehouse.duckdb'} (DuckDB), {study_dir / 'store' / 'derived'}/ (Parquet)"
    )
    if result and result.get("intake_warning"):
        typer.secho(f"warning: {result['intake_warning']}", err=True, fg=typer.colors.YELLOW)


@app.command()
@friendly
def nightly(study_dir: StudyOpt) -> None:
    """Run the nightly flow: ingest new inbox files, update touched weeks, rescore, refresh the warehouse.

    Example: irisin nightly --study ./demo-study
    """
    _prefect_env(study_dir)
    from flows.nightly import nightly_flow

    _print_result(nightly_flow(str(study_dir)), study_dir)


def _split(value: str | None) -> list[str] | None:
    return None if not value else [v.strip() for v in value.split(",") if v.strip()]


@app.command()
@friendly
def backfill(
    study_dir: StudyOpt,
    participants: Annotated[
        str | None, typer.Option(help="Comma-separated participant ids.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every participant in the inbox.")] = False,
    since: Annotated[
        str | None, typer.Option(help="First local date to recompute (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last local date to recompute (YYYY-MM-DD).")
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="Folder with <participant_id>/ raw files instead of the inbox."),
    ] = None,
) -> None:
    """Reprocess a cohort in participant batches; resumable after a crash.

    Example: irisin backfill --study ./my-study --all --since 2026-01-01
    """
    if not all_ and not participants:
        raise _fail("say which participants: --participants A,B or --all")
    _prefect_env(study_dir)
    from flows.backfill import backfill_flow

    result = backfill_flow(
        str(study_dir),
        participants=None if all_ else _split(participants),
        since=date.fromisoformat(since) if since else None,
        until=date.fromisoformat(until) if until else None,
        source_dir=str(source) if source else None,
    )
    _print_result(result, study_dir)


@app.command()
@friendly
def rescore(study_dir: StudyOpt) -> None:
    """Recompute features and scores from the lake after study.toml changed (no raw file is re-read).

    Example: irisin rescore --study ./my-study
    """
    _prefect_env(study_dir)
    from flows.rescore import rescore_flow

    _print_result(rescore_flow(str(study_dir)), study_dir)


@app.command()
@friendly
def serve(study_dir: StudyOpt) -> None:
    """Serve the nightly deployment on the cron and time zone of study.toml (needs a Prefect API).

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api irisin serve --study ./my-study
    """
    _prefect_env(study_dir)
    from flows.serve import serve as serve_deployment

    serve_deployment(str(study_dir))


@app.command()
@friendly
def dashboard(
    study_dir: StudyOpt,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default from study.toml: 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from study.toml: 8501).")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Evaluate flags as if today were this date (YYYY-MM-DD)."),
    ] = None,
    insecure_no_password: Annotated[
        bool,
        typer.Option(
            "--insecure-no-password", help="Allow a non-loopback address without a password."
        ),
    ] = False,
) -> None:
    """Open the coordinators' adherence dashboard (Streamlit) on the study's warehouse.

    Example: irisin dashboard --study ./demo-study   (then open http://127.0.0.1:8501)
    """
    from config import open_study
    from dashboard.auth import is_loopback, refuse_open_server
    from dashboard.launch import command

    study = open_study(study_dir)
    bind = host or study.config.dashboard.host
    refusal = refuse_open_server(bind, os.environ, [Path.cwd(), Path.home()], insecure_no_password)
    if refusal:
        raise _fail(refusal)
    argv = command(
        study_dir,
        bind,
        port or study.config.dashboard.port,
        as_of=date.fromisoformat(as_of) if as_of else None,
        # The app warns of an open server only when it really is reachable from elsewhere.
        insecure_no_password=insecure_no_password and not is_loopback(bind),
    )
    os.execvp(argv[0], argv)


@app.command()
@friendly
def digest(
    study_dir: StudyOpt,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Evaluate the rules as if today were this date (YYYY-MM-DD)."),
    ] = None,
) -> None:
    """E-mail the daily digest to [digest] recipients: counts per alert rule, who is flagged, the table attached.

    Example: IRISIN_SMTP_PASSWORD=... irisin digest --study ./demo-study
    """
    from config import open_study

    settings = open_study(study_dir).config.digest
    if not settings.recipients or not settings.sender:
        raise _fail(
            f"{study_dir / 'study.toml'}: [digest] needs sender and recipients before a digest can be sent"
        )
    _prefect_env(study_dir)
    from flows.digest import digest_flow

    result: dict[str, Any] = cast(Any, digest_flow(str(study_dir), as_of))  # the state's data
    typer.echo(result["summary"])
    if result["sent"] is False:
        raise typer.Exit(1)


@app.command()
def schema(
    table: Annotated[
        str | None, typer.Argument(help="Table name; all tables when omitted.")
    ] = None,
) -> None:
    """Print the canonical tables: every column with its type, unit and meaning.

    Example: irisin schema minutes
    """
    from config.schema import TABLES, describe

    names = [table] if table else list(TABLES)
    for name in names:
        if name not in TABLES:
            raise _fail(f"unknown table {name!r}; choose one of {', '.join(TABLES)}")
        typer.echo(f"{name}:")
        for col, typ, unit, meaning in describe(TABLES[name]):
            typer.echo(f"  {col:26s} {typ:24s} {unit:10s} {meaning}")


# -- verify and repair (issue 15) ------------------------------------------------
@app.command()
@friendly
def verify(study_dir: StudyOpt) -> None:
    """Check every lake part, the manifest against the lake, the derived tables and the Prefect database.

    Names each damaged thing and exits 1 when anything is damaged.
    Example: irisin verify --study ./my-study
    """
    _prefect_env(study_dir, set_aside_corrupt_database=False)
    from config import open_study
    from pipeline.repair import prefect_database_of
    from store.verify import study_damage

    study = open_study(study_dir)
    damage = study_damage(study.paths, prefect_database_of(study, os.environ.get("PREFECT_HOME")))
    for d in damage:
        typer.echo(f"damaged {d.line()}")
    if damage:
        typer.echo(f"{len(damage)} damaged; rebuild with: irisin repair --study {study_dir}")
        raise typer.Exit(1)
    typer.echo("ok: lake parts, manifest, derived tables and Prefect database are all readable")


@app.command()
@friendly
def repair(study_dir: StudyOpt) -> None:
    """Rebuild what verify finds damaged: lake batches from their raw files, derived tables from the lake.

    Also deletes temporary files of interrupted writes and moves a corrupt Prefect database aside.
    Example: irisin repair --study ./my-study
    """
    _prefect_env(study_dir, set_aside_corrupt_database=False)
    from config import open_study
    from flows.tasks import study_lock
    from pipeline.repair import prefect_database_of
    from pipeline.repair import repair as repair_study

    study = open_study(study_dir)
    with study_lock(study):
        report = repair_study(study, prefect_database_of(study, os.environ.get("PREFECT_HOME")))
    for d in report.found:
        typer.echo(f"found {d.line()}")
    for line in report.done:
        typer.echo(f"repaired: {line}")
    for line in report.left:
        typer.echo(f"not repaired: {line}")
    if not report.found:
        typer.echo("nothing to repair")
    if report.left:
        raise typer.Exit(1)


def main() -> None:
    """Console entry point."""
    from ingest.lean_imports import skip_pandas_probe

    skip_pandas_probe()  # no command needs pandas; pyarrow would import it on its first conversion
    app(prog_name="irisin")
