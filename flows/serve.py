"""Serve the nightly flow on the study's schedule (``[schedule]`` of ``study.toml``).

``build_deployment`` returns the deployment (cron, time zone, parameters)
without starting anything, so it can be inspected; ``serve`` runs it with
``flow.serve`` in this process until interrupted (it needs a Prefect API,
e.g. ``prefect server start`` and ``PREFECT_API_URL``). ``prefect.yaml`` at
the repository root describes the same deployment for a worker and work pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from config import Study, open_study
from flows.artifacts import slug
from flows.nightly import nightly_flow

DEPLOYMENT_PREFIX = "irisin-nightly"


def schedule_of(study: Study) -> tuple[str, str]:
    """The nightly cron and its IANA time zone (``[schedule] timezone``, else the study's zone)."""
    return study.config.schedule.cron, study.config.schedule_timezone


def deployment_name(study: Study) -> str:
    """``irisin-nightly-<study folder>``: one deployment per study on a shared Prefect server."""
    return f"{DEPLOYMENT_PREFIX}-{slug(study.root.name)}"


def deployment_options(study: Study) -> dict[str, Any]:
    """Options shared by ``to_deployment`` and ``serve``: name, schedule, parameters, description, tags."""
    cron, zone = schedule_of(study)
    return {
        "name": deployment_name(study),
        "schedule": Cron(cron, timezone=zone),
        "parameters": {"study_dir": str(study.root.resolve())},
        "description": f"irisin nightly for {study.config.study.name} ({cron}, {zone})",
        "tags": ["irisin", "nightly"],
    }


def build_deployment(study_dir: str) -> RunnerDeployment:
    """The nightly deployment of the study at ``study_dir``; at most one run at a time."""
    study = open_study(Path(study_dir))
    return cast(
        RunnerDeployment,
        nightly_flow.to_deployment(**deployment_options(study), concurrency_limit=1),
    )


def digest_deployment_options(study: Study) -> dict[str, Any]:
    """The daily digest's deployment: ``[digest] cron`` in the schedule's time zone."""
    _, zone = schedule_of(study)
    cron = study.config.digest.cron
    return {
        "name": f"irisin-digest-{slug(study.root.name)}",
        "schedule": Cron(cron, timezone=zone),
        "parameters": {"study_dir": str(study.root.resolve())},
        "description": f"irisin daily digest for {study.config.study.name} ({cron}, {zone})",
        "tags": ["irisin", "digest"],
    }


def build_digest_deployment(study_dir: str) -> RunnerDeployment | None:
    """The digest deployment, or None while ``[digest]`` has no recipients."""
    from flows.digest import digest_flow

    study = open_study(Path(study_dir))
    if not study.config.digest.recipients:
        return None
    return cast(
        RunnerDeployment,
        digest_flow.to_deployment(**digest_deployment_options(study), concurrency_limit=1),
    )


def serve(study_dir: str) -> None:
    """Serve the nightly deployment (and the digest, when it has recipients) until interrupted."""
    study = open_study(Path(study_dir))
    digest = build_digest_deployment(study_dir)
    if digest is None:
        nightly_flow.serve(**deployment_options(study), global_limit=1)
        return
    from prefect import serve as serve_all

    serve_all(build_deployment(study_dir), digest)
