"""Prefect artifacts of a run: the markdown summary and the table of participants needing attention.

Artifact keys carry the study's folder name, so several studies served by one
Prefect server keep separate histories (``irisin-<study>-nightly-summary``).
"""

from __future__ import annotations

import re

import polars as pl
from prefect.artifacts import create_markdown_artifact, create_table_artifact

ATTENTION_COLUMNS: tuple[str, ...] = ("participant_id", "reason")


def slug(name: str) -> str:
    """``name`` as lowercase letters, digits and dashes (what Prefect allows in keys)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "study"


def artifact_key(study_name: str, flow: str, what: str) -> str:
    """The artifact key of one study, flow and artifact."""
    return f"irisin-{slug(study_name)}-{flow}-{what}"


def publish_run_artifacts(
    study_name: str, flow: str, summary: str, attention: pl.DataFrame
) -> None:
    """Create the summary (markdown) and attention (table) artifacts of the current flow run."""
    create_markdown_artifact(
        summary,
        key=artifact_key(study_name, flow, "summary"),
        description=f"irisin {flow}: run summary",
    )
    rows = attention.select(ATTENTION_COLUMNS)
    create_table_artifact(
        {c: rows[c].to_list() for c in ATTENTION_COLUMNS},
        key=artifact_key(study_name, flow, "attention"),
        description=f"irisin {flow}: participants needing attention ({rows.height})",
    )
