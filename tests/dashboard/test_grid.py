"""The compliance grid (landing page): marks per day, week statuses, attention order, paging, downloads."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from config import open_study
from dashboard import auth, data, grid
from models import participant_table
from tests.dashboard.conftest import Media
from tests.dashboard.conftest import deferred_download as _deferred_download

TODAY = date(2024, 3, 8)


@pytest.fixture(autouse=True)
def _no_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(auth.PASSWORD_ENV, raising=False)


def _grid(study_dir: Path, weeks: int = 2) -> grid.Grid:
    study = open_study(study_dir)
    table = participant_table.load_participant_table(study, TODAY)
    return data.load_grid(study, table.alerts, TODAY, weeks)


def _row(view: grid.Grid, pid: str) -> dict[str, object]:
    return view.table.filter(pl.col("participant_id") == pid).row(0, named=True)


def test_days_marks_and_week_status_per_participant(fixture_study: Path) -> None:
    view = _grid(fixture_study)
    assert view.days[0] == date(2024, 2, 26) and view.days[-1] == date(2024, 3, 10)
    assert view.week_columns == ["week of 2024-02-26", "week of 2024-03-04"]
    p03 = _row(view, "P03")  # 300 worn minutes a day: data, never a valid day; weeks insufficient
    assert [p03[c] for c in view.day_columns[:11]] == [grid.DATA_MARK] * 11
    assert (p03["week of 2024-02-26"], p03["week of 2024-03-04"]) == (
        "insufficient",
        "insufficient",
    )
    p02 = _row(view, "P02")  # valid days up to 03-02, then nothing
    assert [p02[c] for c in view.day_columns[:8]] == [grid.VALID_MARK] * 6 + [grid.NONE_MARK] * 2
    assert p02["week of 2024-03-04"] == "no data" and p02["flags"] == "no data for 6 days"
    assert p02["last_data"] == "2024-03-02 23:59 America/New_York"
    p08 = _row(view, "P08")  # started 03-05: earlier days blank; 03-06 500 min: data, not valid
    assert [p08[c] for c in view.day_columns[7:11]] == [
        "",
        grid.VALID_MARK,
        grid.DATA_MARK,
        grid.DATA_MARK,
    ]
    assert all(_row(view, "P01")[c] == "" for c in view.day_columns[-2:])  # after today: blank


def test_rows_in_attention_order(fixture_study: Path) -> None:
    order = _grid(fixture_study).table["participant_id"].to_list()
    # never synced, then one flag each by days since data (6, 3, then the 1-day ones by id), then unflagged
    assert order == ["P05", "P02", "P06", "P03", "P04", "P09", "P01", "P07", "P08"]


def _script(study_dir: str, as_of: object) -> None:
    from pathlib import Path

    from dashboard.app import main

    main(Path(study_dir), as_of)


def _app(study: Path) -> AppTest:
    at = AppTest.from_function(
        _script, kwargs={"study_dir": str(study), "as_of": TODAY}, default_timeout=60
    )
    return at.run()


def test_grid_is_the_landing_page_and_downloads_csv_and_excel(
    fixture_study: Path, media: Media
) -> None:
    at = _app(fixture_study)
    assert not at.exception
    assert at.header[0].value == "Compliance grid"
    shown = at.dataframe[0].value
    assert shown["participant_id"].tolist()[:3] == ["P05", "P02", "P06"]
    assert len(shown.columns) == 4 + 4  # 4 weeks by default, one column each on screen
    on_screen = dict(zip(shown["participant_id"], shown["week of 2024-03-04"], strict=True))
    assert on_screen["P08"] == "–●◐◐○––  met" and on_screen["P02"] == "○○○○○––  no data"
    alerts = at.dataframe[1].value
    assert set(zip(alerts["participant_id"], alerts["rule"], strict=True)) == {
        ("P05", "no data"),
        ("P02", "no data"),
        ("P06", "no data"),
        ("P03", "low wear"),
        ("P04", "below the hour"),
        ("P09", "no heart rate"),
    }
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Grid as CSV", "Grid as Excel", "Alerts as CSV", "Alerts as Excel"]
    _, csv = _deferred_download(at, media, 0)
    back = pl.read_csv(io.BytesIO(csv))
    assert back["participant_id"].to_list() == shown["participant_id"].tolist()
    assert back["Thu 07 Mar"].to_list()[:3] == [grid.NONE_MARK, grid.NONE_MARK, grid.NONE_MARK]
    _, xlsx = _deferred_download(at, media, 1)
    book = zipfile.ZipFile(io.BytesIO(xlsx))
    assert {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"} <= set(book.namelist())
    assert "no heart rate for 5 days" in book.read("xl/sharedStrings.xml").decode()
    at.number_input(key="grid_weeks").set_value(1).run()
    assert len(at.dataframe[0].value.columns) == 4 + 1
    at.multiselect(key="grid_flags").set_value(["no heart rate"]).run()
    assert at.dataframe[0].value["participant_id"].tolist() == ["P09"]


def test_grid_pages_a_large_roster(tmp_path: Path) -> None:
    from bench.dashboard import build

    build(tmp_path / "study", 250, 4, 1, seed=3)
    at = AppTest.from_function(
        _script,
        kwargs={"study_dir": str(tmp_path / "study"), "as_of": date(2025, 2, 2)},
        default_timeout=120,
    ).run()
    assert not at.exception
    first = at.dataframe[0].value
    assert len(first) == 100
    assert any("of 250 shown" in c.value for c in at.caption)
    at.number_input(key="grid_page").set_value(3).run()
    last = at.dataframe[0].value
    assert len(last) == 50 and not set(last["participant_id"]) & set(first["participant_id"])
