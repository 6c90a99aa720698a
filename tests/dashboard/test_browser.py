"""The dashboard served by ``streamlit run`` and opened in a real headless Chromium.

Uses Debian's ``chromium`` (``apt-get install -y chromium``) through Python
Playwright; skips with the reason when either is missing. The server is the
exact argv ``irisin dashboard`` execs (:func:`dashboard.launch.command`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dashboard import auth, launch

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AS_OF = date(2024, 3, 8)
STARTUP_SECONDS = 90
RENDER_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"streamlit not healthy after {STARTUP_SECONDS} s:\n{log.read_text()}")


@contextmanager
def serving(
    argv: list[str], port: int, workdir: Path, password: str | None = None
) -> Iterator[str]:
    """Run a dashboard server command line listening on ``port``; yield its URL once healthy."""
    env = {k: v for k, v in os.environ.items() if k != auth.PASSWORD_ENV}
    if password:
        env[auth.PASSWORD_ENV] = password
    log = workdir / f"streamlit-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def served(
    study: Path, workdir: Path, password: str | None = None, as_of: date | None = AS_OF
) -> Iterator[str]:
    """Serve the dashboard of ``study`` (the argv ``irisin dashboard`` execs) on a free localhost port."""
    port = free_port()
    with serving(
        launch.command(study, "127.0.0.1", port, as_of=as_of), port, workdir, password
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's package with 'apt-get install -y chromium'"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Python playwright is not installed"
    )
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(url)
    return page


def wait_for_table(page: Any) -> None:
    """The participant table is a canvas grid; its accessible copy in the DOM carries the cell text."""
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=RENDER_MS)
    page.wait_for_function("document.body.innerHTML.includes('P01')", timeout=RENDER_MS)


def test_table_and_threshold_line_in_a_real_browser(
    browser: Any, fixture_study: Path, tmp_path: Path
) -> None:
    with served(fixture_study, tmp_path) as url:
        page = open_page(browser, f"{url}/?page=participants")
        wait_for_table(page)
        grid = page.locator("[data-testid='stDataFrame']")
        assert grid.is_visible()
        assert (
            "no data for 6 days" in page.content()
        )  # P02's flag, as in the fixture's expectations
        page.screenshot(path=str(tmp_path / "participants.png"))

        page.goto(f"{url}/?page=participant&participant=P04")
        label = page.locator("svg text", has_text="60 min/week threshold")
        label.last.wait_for(
            state="visible", timeout=RENDER_MS
        )  # the ink label, drawn over its halo
        assert page.get_by_text(
            "2024-03-07 10:59 Europe/London"
        ).is_visible()  # P04's last data, local
        assert page.get_by_text("below the hour 3 weeks running").is_visible()
        # A horizontal line has no height, so Playwright never calls it "visible": check it spans the plot.
        dashed = page.locator(
            "g.mark-rule line[stroke-dasharray], g.mark-rule path[stroke-dasharray]"
        )
        assert dashed.count() == 1
        box = dashed.first.bounding_box()
        assert box is not None and box["width"] > 300, box
        page.screenshot(path=str(tmp_path / "participant.png"), full_page=True)
        page.close()
    assert (tmp_path / "participants.png").stat().st_size > 10_000
    assert (tmp_path / "participant.png").stat().st_size > 10_000


def test_password_hides_the_table_until_sign_in(
    browser: Any, fixture_study: Path, tmp_path: Path
) -> None:
    with served(fixture_study, tmp_path, password="correct horse") as url:
        page = open_page(browser, f"{url}/?page=participants")
        field = page.get_by_label("Password", exact=True)
        field.wait_for(state="visible", timeout=RENDER_MS)
        page.wait_for_timeout(1500)  # give a wrongly ungated page the time to draw its table
        assert page.locator("[data-testid='stDataFrame']").count() == 0
        assert "P01" not in page.content()
        page.screenshot(path=str(tmp_path / "login.png"))
        field.fill("correct horse")
        page.get_by_role("button", name="Sign in").click()
        wait_for_table(page)
        page.close()


def test_csv_download_is_made_after_sign_in_and_is_gone_after_its_short_life(
    browser: Any, fixture_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 4: no media URL before the click; the file made by it dies within seconds."""
    monkeypatch.setenv("IRISIN_DOWNLOAD_LIFE_SECONDS", "3")
    with served(fixture_study, tmp_path, password="correct horse") as url:
        page = open_page(browser, f"{url}/?page=participants")
        field = page.get_by_label("Password", exact=True)
        field.wait_for(state="visible", timeout=RENDER_MS)
        field.fill("correct horse")
        page.get_by_role("button", name="Sign in").click()
        wait_for_table(page)
        assert ".csv" not in page.content()  # drawn, not generated: no file link to fetch yet
        with page.expect_download(timeout=RENDER_MS) as caught:
            page.get_by_role("button", name="Download table as CSV").click()
        download = caught.value
        body = Path(download.path()).read_text(encoding="utf-8")
        assert body.startswith("participant_id,flags,") and "no data for 6 days" in body
        media_url = download.url
        assert "/media/" in media_url
        time.sleep(5)
        with pytest.raises(urllib.error.HTTPError) as gone:  # no cookie, and past its life: no data
            urllib.request.urlopen(media_url, timeout=5)
        assert gone.value.code == 404
        gone.value.close()  # an HTTPError holds the response's socket open until closed
        page.close()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_grid_shows_a_participant_tripping_each_rule(
    browser: Any, fixture_study: Path, tmp_path: Path
) -> None:
    """The landing page, read through the browser: every rule's designed participant carries its flag."""
    with served(fixture_study, tmp_path) as url:
        page = open_page(browser, url)
        page.get_by_text("Compliance grid").first.wait_for(state="visible", timeout=RENDER_MS)
        wait_for_table(page)
        page.wait_for_function(
            "document.body.innerHTML.includes('no heart rate for 5 days')", timeout=RENDER_MS
        )
        html = page.content()
        for flag in (
            "no data yet",  # P05
            "no data for 6 days",  # P02
            "low wear: 5.0 h/day over 7 days",  # P03
            "below the hour 3 weeks running",  # P04
            "no heart rate for 5 days",  # P09
        ):
            assert flag in html, flag
        assert "● valid wear day" in html  # the legend: marks, not only colour
        page.screenshot(path=str(tmp_path / "grid.png"), full_page=True)
        if os.environ.get("IRISIN_UPDATE_SCREENSHOTS"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "grid.png"), full_page=True)
        page.close()
    assert (tmp_path / "grid.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def long_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated 5-year, 300-participant study (``bench.dashboard``); P00001 has an 18-month gap."""
    import duckdb

    from bench.dashboard import build

    root = tmp_path_factory.mktemp("long") / "study"
    build(root, 300, 260, 1, seed=11)
    con = duckdb.connect(str(root / "store" / "warehouse.duckdb"))
    try:
        for table, column in (("weekly", "week_start"), ("daily", "local_date")):
            con.execute(
                f"DELETE FROM {table} WHERE participant_id = 'P00001' AND {column} BETWEEN DATE '2026-03-02' AND DATE '2027-08-29'"
            )
    finally:
        con.close()
    return root


def test_long_study_participant_page_shows_the_gap_and_every_hour(
    browser: Any, long_study: Path, tmp_path: Path
) -> None:
    with served(long_study, tmp_path, as_of=date(2029, 12, 31)) as url:
        page = open_page(browser, f"{url}/?page=participant&participant=P00001")
        page.locator("svg text", has_text="60 min/week threshold").last.wait_for(
            state="visible", timeout=RENDER_MS
        )
        page.get_by_text("whole study").first.click()
        page.wait_for_timeout(3000)
        page.locator("svg text", has_text="60 min/week threshold").last.wait_for(
            state="visible", timeout=RENDER_MS
        )
        # the heat map's hour axis carries all 24 hours, worn or not
        hours = page.locator("svg text", has_text=re.compile(r"^(0|23)$"))
        assert hours.count() >= 2
        page.screenshot(path=str(tmp_path / "long-participant.png"), full_page=True)
        if os.environ.get("IRISIN_UPDATE_SCREENSHOTS"):
            page.screenshot(path=str(SCREENSHOTS / "long-participant.png"), full_page=True)
        page.close()
    assert (tmp_path / "long-participant.png").stat().st_size > 10_000
