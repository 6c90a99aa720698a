"""Re-take the README's dashboard screenshots from a built study (demo) in headless Chromium.

    python -m tests.dashboard.screenshots STUDY_DIR [--as-of 2026-04-27] [--participant P09] [--out docs/screenshots]

Writes ``grid.png``, ``cohort.png`` and ``participant.png``; uses the same server and browser
set-up as the browser test.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, RENDER_MS, served


def take(study: Path, out: Path, as_of: date | None, participant: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with (
        tempfile.TemporaryDirectory() as work,
        served(study, Path(work), as_of=as_of) as url,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, query, ready in (
            ("grid", "?page=grid", "text=Compliance grid"),
            ("cohort", "?page=cohort", "svg text >> text=min threshold"),
            (
                "participant",
                f"?page=participant&participant={participant}",
                "svg text >> text=min/week threshold",
            ),
        ):
            page.goto(f"{url}/{query}")
            page.locator(ready).first.wait_for(state="visible", timeout=RENDER_MS)
            page.wait_for_timeout(3000)  # let the remaining charts finish drawing
            path = out / f"{name}.png"
            page.screenshot(path=str(path))
            shots.append(path)
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("study", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--participant", default="P09")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    for path in take(args.study, args.out, args.as_of, args.participant):
        print(path)


if __name__ == "__main__":
    main()
