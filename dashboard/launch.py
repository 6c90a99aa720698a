"""The ``streamlit run`` command line that serves the dashboard of a study."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def command(
    study_dir: Path,
    host: str,
    port: int,
    *,
    as_of: date | None = None,
    insecure_no_password: bool = False,
) -> list[str]:
    """The argv that serves the dashboard of ``study_dir`` on ``host:port``.

    Headless (no browser is opened), no usage statistics, XSRF protection on.
    ``as_of`` replays the flags as if today were that date (for a past study
    or the demo); by default "today" is the current date. ``insecure_no_password``
    puts a warning on every page (the caller checked that it was asked for).
    """
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.enableXsrfProtection",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        "--study",
        str(Path(study_dir).resolve()),
    ]
    if as_of is not None:
        argv += ["--as-of", as_of.isoformat()]
    if insecure_no_password:
        argv.append("--insecure-no-password")  # the page then warns that it is open
    return argv
