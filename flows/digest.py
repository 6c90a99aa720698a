"""The daily digest flow: the alert rules' results e-mailed to staff (``pipeline.digest``).

A thin wrapper: the library builds, keeps and sends the message. A send that
still fails after its retries does not fail the flow run: the run completes
with a message that says so and where the mail is kept, so a dashboard of
flow runs shows it as a warning and nothing is lost.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed

from config import open_study
from pipeline.digest import run_digest


@flow(name="irisin-digest", log_prints=False)
def digest_flow(study_dir: str, as_of: str | None = None) -> Any:
    """Send the day's digest of the study at ``study_dir`` (``as_of``: a replay date, YYYY-MM-DD)."""
    study = open_study(Path(study_dir))
    run = run_digest(study, date.fromisoformat(as_of) if as_of else None)
    logger = get_run_logger()
    message = run.summary()
    if run.result is not None and not run.result.sent:
        logger.error(message)
    else:
        logger.info(message)
    return Completed(
        message=message,
        data={
            "day": run.digest.day.isoformat(),
            "counts": run.digest.counts,
            "flagged": run.digest.flagged,
            "sent": None if run.result is None else run.result.sent,
            "attempts": None if run.result is None else run.result.attempts,
            "error": None if run.result is None else run.result.error,
            "kept": None if run.kept is None else str(run.kept),
            "summary": message,
        },
    )
