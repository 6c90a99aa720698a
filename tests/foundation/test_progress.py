"""The progress of a run as a pure object (files, bytes, participant, stage) and its bar on a terminal only."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from rich.console import Console

from pipeline.progress import ProgressBar, RunProgress, size_of


def test_progress_counts_files_and_bytes_and_names_the_participant() -> None:
    p = RunProgress(total_files=10, total_bytes=2_000_000)
    p.advance("P01", 3, 500_000)
    p.advance("P02", 2, 250_000)

    assert (p.files, p.bytes) == (5, 750_000)
    assert p.label() == "ingest P02"
    assert p.size_text() == "750.0 kB/2.0 MB"


def test_progress_never_passes_its_totals_and_stages_follow_ingest() -> None:
    p = RunProgress(total_files=4, total_bytes=100)
    p.advance("P01", 9, 1_000)  # a file grown since it was listed
    assert (p.files, p.bytes) == (4, 100)

    p.enter("derive")
    assert p.label() == "derive"
    p.enter("publish")
    assert p.label() == "publish"
    p.finished()
    assert (p.files, p.bytes, p.label()) == (4, 100, "done")


def test_progress_is_safe_across_threads() -> None:
    p = RunProgress(total_files=8000, total_bytes=8000)
    threads = [
        threading.Thread(target=lambda: [p.advance("P", 1, 1) for _ in range(1000)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (p.files, p.bytes) == (8000, 8000)


def test_no_bar_when_not_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with ProgressBar(RunProgress(2, 10), title="nightly", console=console) as bar:
        bar.advance("P01", 1, 5)
    # the default looks at stderr, which is not a terminal under pytest
    assert not ProgressBar(RunProgress(2, 10), title="nightly").visible
    assert out.getvalue() == ""


def test_bar_on_a_terminal_shows_files_bytes_and_the_participant() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=120)
    with ProgressBar(RunProgress(4, 4_000_000), title="nightly", show=True, console=console) as bar:
        bar.advance("P07", 1, 1_000_000)
        bar.draw_now()
        text = out.getvalue()
    assert "nightly" in text and "P07" in text and "1/4 files" in text, text
    assert "1.0 MB/4.0 MB" in text, text
    assert "4/4 files" in out.getvalue()  # a finished run ends full


def test_size_of_counts_bytes_and_skips_files_gone(tmp_path: Path) -> None:
    a = tmp_path / "a.fit"
    a.write_bytes(b"x" * 300)
    assert size_of([a, tmp_path / "gone.fit"]) == 300


def test_the_backfill_bar_counts_batches_and_follows_the_run_through_derive_and_publish() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=160)
    resumed = RunProgress(total_files=5, total_bytes=0, files=2, total_batches=3, batches=1)
    with ProgressBar(resumed, title="backfill", show=True, console=console) as bar:
        assert bar.progress.rate() == 0.0  # the two files of the earlier run do not count
        bar.advance("P03", 3, 0)
        bar.batch_done()
        bar.draw_now()
        text = out.getvalue()
        assert "backfill" in text and "5/5 files" in text and "batch 2/3" in text, text
        assert "kB" not in text and " B/" not in text  # no byte column when bytes are not counted
        assert resumed.rate() > 0
        bar.enter("derive")
        assert resumed.label() == "derive"
        bar.enter("publish")
        assert resumed.label() == "publish"
        bar.batch_done()
        bar.batch_done()  # never past the total
        assert resumed.batches_text() == "batch 3/3"
    assert resumed.stage == "done" and resumed.files == 5


def test_irisin_ingest_of_several_paths_moves_one_bar_file_by_file_then_derive_and_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 7: one bar over every path given, moving as each file is read, not per path."""
    from datetime import datetime

    from typer.testing import CliRunner

    from irisin.cli import app
    from pipeline.demo.cohort import DemoParticipant, truth_minutes
    from pipeline.demo.fit_files import write_monitoring_days
    from pipeline.demo.fitbit_files import write_takeout_json
    from tests.fitbit.helpers import worn_truth

    study = tmp_path / "study"
    assert CliRunner().invoke(app, ["init", str(study)]).exit_code == 0
    (study / "roster.csv").write_text("participant_id,timezone\nP01,Europe/Oslo\n")
    who = DemoParticipant("P01", "Europe/Oslo", 1980, 58, 182, "fit", 150)
    fits = write_monitoring_days(
        truth_minutes(who, 7, weeks=1), tmp_path / "sync", device_serial=3_912_345_600
    )
    takeout = write_takeout_json(
        worn_truth(datetime(2026, 3, 2), 3, "Europe/Oslo", hours=(8, 20)),
        tmp_path / "takeout",
        "Europe/Oslo",
    )
    listed = [p for p in takeout.rglob("*") if p.is_file()]
    assert len(fits) > 3 and len(listed) > 3

    seen: list[tuple[str, int, int, int]] = []
    stages: list[tuple[str, int]] = []
    advance, enter = RunProgress.advance, RunProgress.enter

    def record_advance(self: RunProgress, participant: str, files: int, size: int) -> None:
        advance(self, participant, files, size)
        seen.append((participant, files, self.files, self.total_files))

    def record_enter(self: RunProgress, stage: str) -> None:
        enter(self, stage)
        stages.append((stage, self.files))

    monkeypatch.setattr(RunProgress, "advance", record_advance)
    monkeypatch.setattr(RunProgress, "enter", record_enter)
    result = CliRunner().invoke(
        app, ["ingest", "--study", str(study), "-p", "P01", str(tmp_path / "sync"), str(takeout)]
    )

    assert result.exit_code == 0, result.output
    total = len(fits) + len(listed)
    assert {t for *_, t in seen} == {total}  # one bar: every path's files in one total
    assert [f for _, f, _, _ in seen] == [1] * total  # moved file by file
    assert [done for _, _, done, _ in seen] == list(range(1, total + 1))
    assert {p for p, *_ in seen} == {"P01"}
    assert stages == [("derive", total), ("publish", total)]


def test_time_left_is_the_files_left_at_this_runs_rate() -> None:
    p = RunProgress(total_files=7200 * 3 + 100, total_bytes=0)
    p._started -= 100.0  # 100 files in 100 s: 1 file/s, 6 h left
    p.advance("P01", 100, 0)
    assert p.time_left() == "6h00m"
    q = RunProgress(total_files=400, total_bytes=0)
    q._started -= 100.0
    q.advance("P01", 200, 0)  # 2 files/s, 200 left
    assert q.time_left() in ("1m40s", "1m39s")
    q.advance("P01", 200, 0)
    assert q.time_left() == "0m00s"
    assert RunProgress(total_files=4, total_bytes=0).batches_text() == ""
