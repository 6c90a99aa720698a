"""Each dashboard page driven by Streamlit's AppTest on the fixture study."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import auth
from tests.dashboard.conftest import EXPECTED, EXPECTED_ORDER, Media
from tests.dashboard.conftest import deferred_download as _deferred_download

AS_OF = date(2024, 3, 8)  # noon UTC of this day, the fixture's AS_OF


def _script(study_dir: str, as_of: object) -> None:
    from pathlib import Path

    from dashboard.app import main

    main(Path(study_dir), as_of)


def _run(
    study: Path, page: str, secrets: dict[str, object] | None = None, **params: str
) -> AppTest:
    at = AppTest.from_function(
        _script, kwargs={"study_dir": str(study), "as_of": AS_OF}, default_timeout=60
    )
    at.query_params.update(page=page, **params)
    if secrets:
        at.secrets.update(secrets)
    return at.run()


@pytest.fixture(autouse=True)
def _no_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(auth.PASSWORD_ENV, raising=False)


def _texts(at: AppTest) -> str:
    parts = (
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [str(m.value) for m in at.metric]
    )
    parts += (
        [m.label for m in at.metric]
        + [h.value for h in at.header]
        + [s.value for s in at.subheader]
    )
    return "\n".join(parts)


def test_table_page_one_row_per_participant_with_expected_flags(fixture_study: Path) -> None:
    at = _run(fixture_study, "participants")
    assert not at.exception
    shown = at.dataframe[0].value
    assert shown["participant_id"].tolist() == EXPECTED_ORDER
    flags = dict(zip(shown["participant_id"], shown["flags"], strict=True))
    assert flags == {pid: row["flags"] for pid, row in EXPECTED.items()}


def test_csv_download_equals_the_table(fixture_study: Path, media: Media) -> None:
    at = _run(fixture_study, "participants")
    _, content = _deferred_download(at, media)
    csv = pl.read_csv(io.BytesIO(content))
    shown = pl.from_pandas(at.dataframe[0].value)
    assert csv.columns == shown.columns
    assert csv.height == shown.height == len(EXPECTED)
    assert csv["participant_id"].to_list() == shown["participant_id"].to_list()
    assert csv["flags"].fill_null("").to_list() == shown["flags"].fill_null("").to_list()
    assert csv["last_data"].to_list() == shown["last_data"].to_list()
    assert (
        csv["recent_wear_minutes_per_day"].to_list()
        == shown["recent_wear_minutes_per_day"].to_list()
    )


def test_downloads_are_made_after_sign_in_only_with_a_per_session_name(
    fixture_study: Path, media: Media
) -> None:
    secrets = {"dashboard": {"password": "open sesame"}}
    at = _run(fixture_study, "participants", secrets=secrets)
    assert not at.get("download_button")  # before sign-in: no button, no file
    at.text_input[0].input("open sesame")
    at.button[0].click().run()
    assert at.get("download_button")
    assert (
        len(media.storage._files_by_id) == 0
    )  # drawn, not generated: a media URL fetched now finds nothing
    url, content = _deferred_download(at, media)
    other = _run(fixture_study, "participants")
    other_url, other_content = _deferred_download(other, media)
    assert content == other_content and url != other_url  # same table, a different unguessable URL
    names = [
        media.storage.get_file(u.rsplit("/", 1)[-1].split(".")[0]).filename
        for u in (url, other_url)
    ]
    tokens = [
        n.removesuffix(".csv").rsplit("-", 1)[-1] for n in names
    ]  # participants-2024-03-07-<token>.csv
    assert tokens[0] != tokens[1] and all(len(t) >= 16 for t in tokens), names


def test_failed_sign_ins_are_logged_and_answered_ever_later(
    fixture_study: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(auth, "wait", waits.append)
    monkeypatch.setattr(auth, "THROTTLE", auth.LoginThrottle())
    at = _run(fixture_study, "participants", secrets={"dashboard": {"password": "open sesame"}})
    with caplog.at_level("WARNING", logger="irisin.dashboard"):
        for _ in range(4):
            at.text_input[0].input("wrong")
            at.button[0].click().run()
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert [r.getMessage() for r in caplog.records][-1].startswith(
        "dashboard: failed sign-in 4 from "
    )
    at.text_input[0].input("open sesame")
    at.button[0].click().run()
    assert at.dataframe and auth.THROTTLE.count("unknown client") == 0


def test_table_filter_by_flag(fixture_study: Path) -> None:
    at = _run(fixture_study, "participants")
    at.multiselect(key="flag_filter").set_value(["below the hour"]).run()
    assert at.dataframe[0].value["participant_id"].tolist() == ["P04"]


def test_cohort_page_shows_this_weeks_figures(fixture_study: Path) -> None:
    at = _run(fixture_study, "cohort")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Participants enrolled"] == "9"
    # W5 rows: P01, P03, P04, P06, P07, P08, P09 have weekly rows with wear.
    assert metrics["Active this week"] == "7"
    deltas = {m.label: m.delta for m in at.metric}
    assert (
        metrics["Meeting 60 min this week (so far)"],
        deltas["Meeting 60 min this week (so far)"],
    ) == (
        "40% of 5",
        "interval 12%–77%",
    )
    assert (metrics["Last complete week"], deltas["Last complete week"]) == (
        "33% of 6",
        "interval 10%–70%",
    )
    assert "week starting Mon 2024-03-04" in _texts(at)
    trend, distribution = at.get("vega_lite_chart")
    assert (
        '"strokeDash"' in distribution.proto.spec and "60 min threshold" in distribution.proto.spec
    )


def test_participant_page_shows_charts_devices_and_problem_files(fixture_study: Path) -> None:
    at = _run(fixture_study, "participant", participant="P01")
    assert not at.exception
    assert at.selectbox(key="participant").value == "P01"
    assert "**Last data:** 2024-03-07 21:59 Europe/Oslo" in _texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["This week (min, so far)"], metrics["Last complete week (min)"]) == (
        "45",
        "120",
    )
    bars, heatmap = at.get("vega_lite_chart")
    assert "60 min/week threshold" in bars.proto.spec
    assert "hour of day (Europe/Oslo)" in heatmap.proto.spec
    sources, problems = (d.value for d in at.dataframe)
    assert sorted(sources["device"]) == ["Garmin Forerunner 55", "Garmin vivosmart 4"]
    assert problems["status"].tolist() == ["partial"]
    assert "truncated at byte 12000" in problems["reason"][0]


def test_data_quality_page_shows_files_and_last_run(fixture_study: Path) -> None:
    at = _run(fixture_study, "quality")
    assert not at.exception
    files = at.dataframe[0].value
    assert dict(zip(files["status"], files["files"], strict=True)) == {
        "ok": 2,
        "partial": 1,
        "quarantined": 1,
        "skipped": 1,
    }
    text = _texts(at)
    # the later of the two runs, 02:00 UTC = 03:00 in the study zone (Europe/Oslo, CET)
    assert "started 2024-03-07 03:00 Europe/Oslo" in text
    assert "**5 files seen**" in text


def test_password_gate_hides_participant_data_until_sign_in(fixture_study: Path) -> None:
    at = _run(fixture_study, "participants", secrets={"dashboard": {"password": "open sesame"}})
    assert not at.dataframe
    assert "P01" not in _texts(at)
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert not at.dataframe
    assert at.error[0].value == "Wrong password."
    at.text_input[0].input("open sesame")
    at.button[0].click().run()
    assert at.dataframe[0].value["participant_id"].tolist() == EXPECTED_ORDER


def test_password_from_the_environment(
    fixture_study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(auth.PASSWORD_ENV, "from-env")
    at = _run(fixture_study, "participants")
    assert not at.dataframe
    assert at.text_input[0].label == "Password"


def _open_script(study_dir: str) -> None:
    from pathlib import Path

    from dashboard.app import main

    main(Path(study_dir), None, insecure_no_password=True)


def test_an_open_dashboard_says_so_on_every_page(fixture_study: Path) -> None:
    for page in ("grid", "participants", "quality"):
        at = AppTest.from_function(
            _open_script, kwargs={"study_dir": str(fixture_study)}, default_timeout=60
        )
        at.query_params["page"] = page
        at.run()
        assert not at.exception
        assert "without a password (--insecure-no-password)" in at.warning[0].value


def test_every_download_writes_a_formula_looking_id_as_text(
    fixture_study: Path, tmp_path: Path, media: Media
) -> None:
    """An id a spreadsheet would run as a formula ("-1-1" is a valid id) comes back as text in each CSV."""
    import shutil

    study = tmp_path / "study"
    shutil.copytree(fixture_study, study)
    with (study / "roster.csv").open("a", encoding="utf-8") as roster:
        roster.write("-1-1,Europe/Oslo,\n")
    table = _run(study, "participants")
    assert not table.exception
    _, content = _deferred_download(table, media)
    ids = pl.read_csv(io.BytesIO(content))["participant_id"].to_list()
    assert "'-1-1" in ids and "-1-1" not in ids and "P01" in ids
    grid = _run(study, "grid")
    assert not grid.exception
    for index in (0, 2):  # grid as CSV, alerts as CSV
        _, content = _deferred_download(grid, media, index)
        ids = pl.read_csv(io.BytesIO(content))["participant_id"].to_list()
        assert "'-1-1" in ids and "-1-1" not in ids, (index, ids)


def test_notes_page_names_each_participants_hr_parameters_and_time_zone_note(
    tmp_path: Path,
) -> None:
    import duckdb

    from tests.dashboard.conftest import build_fixture_study

    study = build_fixture_study(tmp_path / "study")
    con = duckdb.connect(str(study / "store" / "warehouse.duckdb"))
    try:
        # What derive writes: the weeks' parameter source and heart-rate share, and the notes.
        con.execute("ALTER TABLE weekly ADD COLUMN hr_params VARCHAR")
        con.execute("ALTER TABLE weekly ADD COLUMN share_heart_rate DOUBLE")
        con.execute(
            "UPDATE weekly SET hr_params = CASE participant_id WHEN 'P01' THEN 'roster' "
            "WHEN 'P04' THEN 'device' ELSE 'none' END, "
            "share_heart_rate = CASE WHEN participant_id IN ('P01', 'P04') THEN 0.5 ELSE 0 END"
        )
        con.execute(
            "CREATE TABLE data_notes AS SELECT * FROM (VALUES "
            "('P03', 'heart_rate', 'P03: heart rate recorded but no maximum heart rate: add "
            "birth_year (or max_hr) to roster.csv'), "
            "('P04', 'time_zone', 'P04: the roster says Europe/London (UTC+0); activity looks "
            "like UTC-8 in 3 weeks: check the time zone in roster.csv')"
            ") t(participant_id, topic, note)"
        )
    finally:
        con.close()
    at = _run(study, "notes")
    assert not at.exception
    assert at.header[0].value == "Heart rate & time zones"
    warnings = [w.value for w in at.warning]
    assert warnings == [
        "**Heart rate.** P03: heart rate recorded but no maximum heart rate: add birth_year "
        "(or max_hr) to roster.csv",
        "**Time zone.** P04: the roster says Europe/London (UTC+0); activity looks like UTC-8 "
        "in 3 weeks: check the time zone in roster.csv",
    ]
    shown = pl.from_pandas(at.dataframe[0].value)
    rows = {r["participant_id"]: r for r in shown.iter_rows(named=True)}
    assert shown["participant_id"].to_list()[:2] == ["P03", "P04"]  # those with a note first
    assert (rows["P01"]["hr_params"], rows["P01"]["notes"]) == ("roster", None)
    assert rows["P04"]["hr_params"] == "device" and rows["P04"]["timezone"] == "Europe/London"
    assert rows["P04"]["notes"].startswith("P04: the roster says Europe/London")
    assert rows["P05"]["hr_params"] == "no weeks yet" and rows["P05"]["weeks"] is None
    assert rows["P02"]["hr_params"] == "not used"  # weeks, but heart rate classified none
    assert rows["P01"]["weeks_by_heart_rate"] == rows["P01"]["weeks"] > 0


def test_notes_page_says_so_when_there_is_nothing_to_note(fixture_study: Path) -> None:
    at = _run(fixture_study, "notes")
    assert not at.exception
    assert [s.value for s in at.success] == [
        "No heart-rate or time-zone notes: every participant with heart rate has the "
        "parameters it needs, and no roster zone disagrees with the data."
    ]
    assert "Heart rate & time zones" in [o for o in at.sidebar.radio[0].options]
