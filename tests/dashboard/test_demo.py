"""The dashboard on the demo study: the generator's participants designed to trip a flag do.

The demo study (``pipeline.demo``) runs 8 weeks from Monday 2026-03-02 to Sunday
2026-04-26; each participant wears the device 15 h a day from about 07:00
local unless designed otherwise. It is built once per module through the same
steps as the nightly flow (ingest every inbox item, derive, publish), without
Prefect, and replayed as of 2026-04-27 (noon UTC), the day after the study.

Hand-computed expectations, with the default alerts (3 days, 2 weeks, 600 min):

* P11 stops after day 34 (Sunday 2026-04-05): 2026-04-27 - 04-05 = 22 days.
* P10 wears the device 8 h a day: 480 min/day < 600 -> low wear (its weeks
  are insufficient, so no below-the-hour run).
* P03 (59 min/week), P05 (40) and P09 (30) are below every week. Their last
  worn hour on 04-26 ends before midnight, so 04-26 is not a complete day and
  the last complete week is the one starting 04-13: weeks 1 to 7 -> 7 running.
* P14's Fitbit counts steps only (no heart-rate files): "no heart rate in the
  data", though its weeks are scored by the step rule (met).
* Everyone else: last data on 04-26 (1 day before), enough wear, and met or
  insufficient weeks -> no flag.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from config import open_study
from models import participant_table
from tests.dashboard.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RENDER_MS,
    free_port,
    serving,
    wait_for_table,
)

pytestmark = pytest.mark.slow

AS_OF = date(2026, 4, 27)
BELOW_7 = "below the hour 7 weeks running"
EXPECTED_FLAGS = {
    "P01": "",
    "P02": "",
    "P03": BELOW_7,
    "P04": "",
    "P05": BELOW_7,
    "P06": "",
    "P07": "",
    "P08": "",
    "P09": BELOW_7,
    "P10": "low wear: 8.0 h/day over 7 days",
    "P11": "no data for 22 days",
    "P12": "",
    "P13": "",
    "P14": "no heart rate in the data",
    "P15": "",
}


@pytest.fixture(scope="module")
def demo_table(demo_study: Path) -> pl.DataFrame:
    return participant_table.load_participant_table(open_study(demo_study), AS_OF).table


def test_one_row_per_roster_participant(demo_study: Path, demo_table: pl.DataFrame) -> None:
    roster = open_study(demo_study).roster
    assert sorted(demo_table["participant_id"].to_list()) == sorted(
        roster["participant_id"].to_list()
    )
    assert demo_table["participant_id"].to_list()[0] == "P11"  # stalest first


@pytest.mark.parametrize("participant_id", sorted(EXPECTED_FLAGS))
def test_designed_participants_trip_their_flags(
    demo_table: pl.DataFrame, participant_id: str
) -> None:
    row = demo_table.filter(pl.col("participant_id") == participant_id).row(0, named=True)
    assert row["flags"] == EXPECTED_FLAGS[participant_id], row


def test_designed_figures(demo_table: pl.DataFrame) -> None:
    rows = {r["participant_id"]: r for r in demo_table.iter_rows(named=True)}
    assert rows["P11"]["last_data"].endswith("America/New_York")
    assert rows["P11"]["last_data"].startswith("2026-04-05 ")
    assert rows["P10"]["recent_wear_minutes_per_day"] == 480
    # last complete week (starting 04-20): the designed weekly doses
    assert {p: rows[p]["last_week_minutes"] for p in ("P02", "P03", "P09")} == {
        "P02": 61,
        "P03": 59,
        "P09": 30,
    }


def _script(study_dir: str, as_of: object) -> None:
    from pathlib import Path

    from dashboard.app import main

    main(Path(study_dir), as_of)


@pytest.mark.browser
def test_irisin_dashboard_on_the_demo_in_a_browser(demo_study: Path, tmp_path: Path) -> None:
    """``irisin dashboard --study <demo>`` itself, opened in headless Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's package with 'apt-get install -y chromium'"
        )
    irisin = Path(sys.executable).with_name("irisin")
    if not irisin.exists():
        pytest.skip(f"the irisin command is not installed next to {sys.executable}")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Python playwright is not installed"
    )
    port = free_port()
    argv = [
        str(irisin),
        "dashboard",
        "--study",
        str(demo_study),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with serving(argv, port, tmp_path) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/?page=participants")
        wait_for_table(page)
        assert "P11" in page.content() and "no data for" in page.content()
        page.screenshot(path=str(tmp_path / "demo-participants.png"))
        page.goto(f"{url}/?page=participant&participant=P09")
        page.locator("svg text", has_text="60 min/week threshold").last.wait_for(
            state="visible", timeout=RENDER_MS
        )
        assert page.get_by_text("below the hour 7 weeks running").is_visible()
        page.screenshot(path=str(tmp_path / "demo-participant.png"), full_page=True)
        browser.close()


def test_app_table_page_on_the_demo(
    demo_study: Path, demo_table: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IRISIN_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_function(
        _script, kwargs={"study_dir": str(demo_study), "as_of": AS_OF}, default_timeout=120
    )
    at.query_params["page"] = "participants"
    at.run()
    assert not at.exception
    shown = pl.from_pandas(at.dataframe[0].value)
    assert shown.height == 15
    assert dict(zip(shown["participant_id"], shown["flags"], strict=True)) == dict(
        demo_table.select("participant_id", "flags").iter_rows()
    )


def test_notes_page_on_the_demo_names_p13s_zone_and_each_hr_parameter_source(
    demo_study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IRISIN_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_function(
        _script, kwargs={"study_dir": str(demo_study), "as_of": AS_OF}, default_timeout=120
    )
    at.query_params["page"] = "notes"
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    # P13 lives in Los Angeles on a UTC roster: the only note the demo is built to raise.
    assert len(warnings) == 1
    assert warnings == [
        "**Time zone.** P13: the roster says UTC (UTC); activity looks like UTC-6 in 8 weeks: "
        "check the time zone in roster.csv"
    ]
    shown = pl.from_pandas(at.dataframe[0].value)
    params = dict(zip(shown["participant_id"], shown["hr_params"], strict=True))
    assert shown["participant_id"][0] == "P13"
    # FIT monitoring files label every minute (P01, P12, P13) and P14's device records no heart
    # rate: heart rate classifies none of their minutes. P15's roster holds only id and zone:
    # its parameters come from the FIT device profile. Everyone else's from the roster.
    unused = {"P01", "P12", "P13", "P14"}
    assert params == {
        pid: "not used" if pid in unused else "device" if pid == "P15" else "roster"
        for pid in (f"P{i:02d}" for i in range(1, 16))
    }
    assert shown.height == 15
