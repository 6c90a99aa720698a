"""A study is a folder: study.toml, roster.csv, inbox/<participant_id>/ and the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import polars as pl

from config.errors import ConfigError
from config.roster import empty_roster, load_roster, participant_zone, write_roster
from config.study import ENDPOINT_ENV, StudyConfig, load_study_config


def default_study_toml() -> str:
    """The commented default study.toml that ``irisin init`` writes."""
    return resources.files("config").joinpath("default_study.toml").read_text(encoding="utf-8")


WAREHOUSE_FILE = "warehouse.duckdb"
"""File name of a study's warehouse, in its store folder."""


@dataclass(frozen=True)
class StudyPaths:
    """Where everything of one study lives.

    ``store_url`` (``[store] url``) moves the lake, the derived tables and the
    run records to object storage; the ``*_location`` properties give each as
    a string that ``store`` opens (a local path or an ``s3://`` URL). The
    study folder keeps study.toml, the roster, the inbox and the local caches.
    """

    root: Path
    store_url: str | None = None

    @property
    def remote(self) -> bool:
        """Whether the store is on object storage."""
        return self.store_url is not None

    def _located(self, local: Path, name: str) -> str:
        return f"{self.store_url}/{name}" if self.store_url is not None else str(local)

    @property
    def lake_location(self) -> str:
        """The lake: ``store/lake`` here, or ``<url>/lake``."""
        return self._located(self.lake, "lake")

    @property
    def derived_location(self) -> str:
        """The derived tables: ``store/derived`` here, or ``<url>/derived``."""
        return self._located(self.derived, "derived")

    @property
    def runs_location(self) -> str:
        """Run records (``<run_id>/run_info.json``) and the study lock: ``runs`` here, or ``<url>/runs``."""
        return self._located(self.runs, "runs")

    @property
    def study_toml(self) -> Path:
        return self.root / "study.toml"

    @property
    def roster_csv(self) -> Path:
        return self.root / "roster.csv"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def store(self) -> Path:
        return self.root / "store"

    # Every path of the store is built here, once; the store's modules take these.
    @property
    def lake(self) -> Path:
        """The Parquet lake of canonical rows (``store.lake.Lake``)."""
        return self.store / "lake"

    @property
    def derived(self) -> Path:
        """The derived tables: weekly, daily, scores (``store.derived.DerivedStore``)."""
        return self.store / "derived"

    @property
    def quarantine(self) -> Path:
        """Files held with their reason (``store.quarantine``)."""
        return self.store / "quarantine"

    @property
    def fingerprints(self) -> Path:
        """The cache of raw files' hashes by path, size and time (``ingest.fingerprints``)."""
        return self.store / "fingerprints.json"

    @property
    def warehouse(self) -> Path:
        """The DuckDB warehouse the dashboard reads (``store.warehouse``)."""
        return self.store / WAREHOUSE_FILE

    @property
    def runs(self) -> Path:
        return self.root / "runs"


@dataclass(frozen=True)
class Study:
    """A study folder with its configuration and roster, resolved once per run."""

    paths: StudyPaths
    config: StudyConfig
    roster: pl.DataFrame = field(repr=False)

    @property
    def root(self) -> Path:
        return self.paths.root

    def timezone_of(self, participant_id: str) -> str:
        return participant_zone(self.roster, participant_id, self.config.study.timezone)

    def inputs_hash(self) -> str:
        """``config_hash``: the resolved study.toml and the roster, what a run's results depend on.

        The one hash named ``config_hash`` everywhere (weekly rows, run_info.json,
        the runs table, ``irisin check``, Open mHealth headers). ``Config.hash()``
        covers study.toml alone and is shown as ``settings_hash``.
        """
        h = hashlib.sha256(self.config.canonical_json().encode())
        h.update(self.roster.sort("participant_id").write_csv().encode())
        return h.hexdigest()[:16]


def open_study(root: Path) -> Study:
    """Resolve a study folder; errors name the file and the problem."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such study folder (create one with 'irisin init {root}')")
    paths = StudyPaths(root)
    if not paths.study_toml.exists() and not paths.roster_csv.exists():
        raise ConfigError(
            f"{root}: not a study folder (no study.toml and no roster.csv); "
            f"create one with 'irisin init {root}'"
        )
    config = load_study_config(paths.study_toml)
    url = config.store.url
    missing = config.store.missing_environment()
    if missing:
        raise ConfigError(
            f"{paths.study_toml}: [store] url = {url!r} needs {', '.join(missing)} in the environment "
            f"(the endpoint, if not AWS, in {ENDPOINT_ENV}); credentials are never read from study.toml"
        )
    return Study(StudyPaths(root, url), config, load_roster(paths.roster_csv))


def init_study(root: Path) -> Study:
    """Create a study folder with a commented default study.toml and an empty roster."""
    paths = StudyPaths(Path(root))
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.inbox.mkdir(exist_ok=True)
    if not paths.study_toml.exists():
        paths.study_toml.write_text(default_study_toml(), encoding="utf-8")
    if not paths.roster_csv.exists():
        write_roster(empty_roster(), paths.roster_csv)
    return open_study(paths.root)
