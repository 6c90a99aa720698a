"""A folder of FIT files through the real ingest pipeline: rows land and every file is in the manifest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.fit.writer import FitWriter
from ingest.pipeline import Ingestor
from pipeline.demo.cohort import COHORT, truth_minutes
from pipeline.demo.fit_files import write_activity, write_monitoring_days

PARTICIPANT = next(p for p in COHORT if p.fmt == "fit")


@pytest.fixture()
def inbox(tmp_path: Path) -> tuple[Path, int]:
    """A folder of FIT files of every outcome, and the number of worn minutes in its wellness files."""
    truth = truth_minutes(PARTICIPANT, seed=3, weeks=1)
    inbox = tmp_path / "inbox"
    two_days = truth.filter(pl.col("minute_utc") < truth["minute_utc"][0] + timedelta(days=2))
    write_monitoring_days(two_days, inbox, device_serial=11)
    start = truth.filter(pl.col("intensity") == "vigorous")["minute_utc"][0]
    write_activity(truth, start, start + timedelta(minutes=15), inbox / "run.fit", "running")
    settings = FitWriter()
    settings.define(0, "file_id", ["type", "manufacturer", "serial_number"])
    settings.write(0, [2, 1, 11])
    (inbox / "settings.fit").write_bytes(settings.to_bytes())
    (inbox / "cut.fit").write_bytes((inbox / "run.fit").read_bytes()[:-300])
    (inbox / "notes.fit").write_bytes(b"this is not a FIT file")
    return inbox, two_days.height


def test_a_folder_of_fit_files_fills_the_tables_and_the_manifest(
    tmp_path: Path, inbox: tuple[Path, int]
) -> None:
    folder, worn = inbox
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame(
            {"participant_id": [PARTICIPANT.participant_id], "timezone": [PARTICIPANT.timezone]}
        ),
        tmp_path / "study" / "roster.csv",
    )
    report = Ingestor(open_study(tmp_path / "study")).ingest(PARTICIPANT.participant_id, [folder])
    by_name = {Path(o.path.split("!/")[-1]).name: o for o in report.outcomes}
    assert {n: (o.kind, o.status) for n, o in by_name.items() if n.endswith(".fit")} == {
        **{p.name: ("fit_monitoring", "ok") for p in folder.glob("*_WELLNESS.fit")},
        "run.fit": ("fit_activity", "ok"),
        "settings.fit": ("fit_settings", "skipped"),
        "cut.fit": ("fit_activity", "partial"),
        "notes.fit": ("fit", "quarantined"),
    }
    wellness = [o for n, o in by_name.items() if n.endswith("_WELLNESS.fit")]
    assert len(wellness) >= 2
    assert sum(o.rows["minutes"] for o in wellness) == worn
    assert all(o.rows["daily_totals"] == 1 for o in wellness)
    assert (
        by_name["run.fit"].rows.get("sessions") == 1
        and by_name["run.fit"].rows.get("minutes") == 15
    )
    assert "cut short" in (by_name["cut.fit"].reason or "")
    assert (by_name["notes.fit"].reason or "").startswith("not a FIT file")


def test_fit_members_of_a_zip_are_read_in_windows_of_bounded_bytes(
    tmp_path: Path, inbox: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    import ingest.pipeline as pipeline

    folder, _ = inbox
    archive = tmp_path / "fit-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"export/{f.name}")
    sizes = sorted(f.stat().st_size for f in folder.iterdir() if f.name != "notes.fit")

    def ingest(bound: int) -> tuple[dict[str, tuple[str, str, int]], list[int]]:
        monkeypatch.setattr(pipeline, "FIT_READ_BYTES", bound)
        windows: list[int] = []
        real = Ingestor.read_fits

        def spy(self: Ingestor, jobs):  # noqa: ANN001, ANN202
            windows.append(sum(len(data) for data, _ in jobs))
            return real(self, jobs)

        monkeypatch.setattr(Ingestor, "read_fits", spy)
        study = tmp_path / f"study-{bound}"
        init_study(study)
        write_roster(
            pl.DataFrame(
                {"participant_id": [PARTICIPANT.participant_id], "timezone": [PARTICIPANT.timezone]}
            ),
            study / "roster.csv",
        )
        report = Ingestor(open_study(study)).ingest(PARTICIPANT.participant_id, [archive])
        rows = {
            o.path.split("!/")[-1]: (o.kind, o.status, o.rows.get("minutes", 0))
            for o in report.outcomes
        }
        return rows, [w for w in windows if w]

    whole, one_window = ingest(64 << 20)
    bounded, windows = ingest(sizes[-1])  # no more than the largest member's bytes held at once
    assert bounded == whole and len(one_window) == 1
    assert len(windows) > 1 and max(windows) < 2 * sizes[-1]
    assert sum(windows) == one_window[0]
