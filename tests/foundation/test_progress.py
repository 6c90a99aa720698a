"""The progress of a run as a pure object (files, bytes, participant, stage) and its bar on a terminal only."""

from __future__ import annotations

import io
import threading
from pathlib import Path

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


def test_the_backfill_bar_follows_the_run_through_derive_and_publish() -> None:
    import logging

    from flows.progress import BackfillProgress

    with BackfillProgress(
        logging.getLogger("test"), total_files=3, total_batches=1, show_bar=True
    ) as progress:
        assert progress.stage == "ingest"
        progress.participant_done(3)
        progress.enter("derive")
        assert progress.stage == "derive"
        progress.enter("publish")
        assert progress.stage == "publish"
    assert progress.stage == "done" and progress.files == 3
