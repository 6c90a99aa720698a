"""A study's thresholds and rules (``study.toml``), typed and validated once.

Every threshold carries its unit in its name. Validation errors name the file,
the key, the bad value and what is allowed, so a coordinator editing the file
by hand can fix it from one line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from config.errors import ConfigError

Method = Literal["device", "heart_rate", "cadence", "mets"]
WearRule = Literal["auto", "heart_rate_present", "heart_rate_or_steps", "device", "steps"]
DEFAULT_METHODS: tuple[Method, ...] = ("device", "heart_rate", "cadence", "mets")

KNOWN_SOURCES: tuple[str, ...] = (
    "fit_activity",
    "fit_monitoring",
    "garmin_export",
    "fitbit_takeout",
    "fitabase",
    "apple_health",
    "activity_xml",
    "fitbit_hr_zones",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Oslo')") from None
    return value


class StudySection(_Section):
    """Who the study is and how its weeks are cut."""

    name: str = "irisin study"
    timezone: str = Field("UTC", description="default IANA zone for participants without one")
    week_start: Literal["monday", "study_relative"] = Field(
        "monday",
        description="calendar weeks from Monday 00:00 local, or 7-day weeks from each participant's start_date",
    )
    use_device_offsets: bool = Field(
        False,
        description="place minutes by the device's UTC offset instead of the roster zone (travellers)",
    )

    _zone = field_validator("timezone")(_check_zone)


class IntensitySection(_Section):
    """How each minute is classified: the first method in ``methods`` that applies wins."""

    methods: list[Method] = Field(default_factory=lambda: list(DEFAULT_METHODS), min_length=1)
    hrr_moderate_percent: Annotated[float, Field(ge=0, le=100)] = 40.0
    hrr_vigorous_percent: Annotated[float, Field(ge=0, le=100)] = 60.0
    cadence_moderate_steps_per_minute: Annotated[float, Field(ge=0, le=300)] = 100.0
    cadence_vigorous_steps_per_minute: Annotated[float, Field(ge=0, le=300)] = 130.0
    mets_moderate: Annotated[float, Field(ge=0, le=30)] = 3.0
    mets_vigorous: Annotated[float, Field(ge=0, le=30)] = 6.0
    source_precedence: list[str] = Field(
        default_factory=lambda: list(KNOWN_SOURCES),
        description="sources, most trusted first; a known source not listed still counts, after the listed ones",
    )
    _unlisted_sources: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("methods")
    @classmethod
    def _unique_methods(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"methods listed twice in {v}")
        return v

    @field_validator("source_precedence")
    @classmethod
    def _known_sources(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in KNOWN_SOURCES]
        if unknown:
            raise ValueError(f"unknown sources {unknown}; known: {list(KNOWN_SOURCES)}")
        return v

    @model_validator(mode="after")
    def _unlisted_count_last(self) -> IntensitySection:
        """A study.toml older than a source still reads it: unlisted sources rank after the listed ones."""
        missing = tuple(s for s in KNOWN_SOURCES if s not in self.source_precedence)
        if missing:
            object.__setattr__(self, "source_precedence", [*self.source_precedence, *missing])
            self._unlisted_sources = missing
        return self

    @property
    def unlisted_sources(self) -> tuple[str, ...]:
        """Known sources study.toml does not list (they count, at the lowest precedence)."""
        return self._unlisted_sources


class WearSection(_Section):
    """When a minute counts as worn, a day as valid and a week as sufficient."""

    rule: WearRule = Field(
        "auto",
        description="auto: heart rate present where the source recorded heart rate that day, else the step rule",
    )
    step_nonwear_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        90, description="a run of zero steps at least this long is non-wear (Choi et al. 2011)"
    )
    step_interruption_minutes: Annotated[int, Field(ge=0, le=60)] = Field(
        2, description="minutes with steps allowed inside a non-wear run (Choi et al. 2011)"
    )
    step_interruption_window_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        30,
        description="zero-step minutes needed on each side of an allowed interruption (Choi et al. 2011)",
    )
    min_wear_minutes_per_day: Annotated[int, Field(ge=0, le=1440)] = 600
    min_valid_days_per_week: Annotated[int, Field(ge=0, le=7)] = 4


class ScoringSection(_Section):
    """The weekly threshold and the dose-response assumption."""

    threshold_minutes_per_week: Annotated[int, Field(ge=1, le=10080)] = 60
    benefit_tau_minutes: Annotated[float, Field(gt=0, le=10080)] = Field(
        60 / math.log(20),
        description="benefit = 1 - exp(-mvpa/tau); the default gives 95 % at 60 min (modelling assumption)",
    )


class IngestSection(_Section):
    """Limits and concurrency of ingestion."""

    max_concurrent_files: Annotated[int, Field(ge=1, le=256)] = 4
    extra_inbox_paths: list[str] = Field(default_factory=list)
    archive_max_members: Annotated[int, Field(ge=1)] = 100_000
    archive_max_depth: Annotated[int, Field(ge=1, le=10)] = 3
    archive_max_expansion_ratio: Annotated[float, Field(gt=0)] = 200.0
    archive_max_expanded_bytes: Annotated[int, Field(gt=0)] = 20 * 1024**3
    archive_max_member_ratio: Annotated[float, Field(gt=0)] = 1000.0
    archive_min_free_disk_bytes: Annotated[int, Field(ge=0)] = 1024**3
    archive_ratio_floor_bytes: Annotated[int, Field(ge=0)] = 64 * 1024**2
    backfill_batch_participants: Annotated[int, Field(ge=1)] = 25


class AlertsSection(_Section):
    """Alert rules (``models.alerts``): each counts from the participant's own last data, "no data" to today."""

    no_data_days: Annotated[int, Field(ge=1, le=365)] = Field(
        3, description="last data N or more days before today"
    )
    low_wear_hours_per_day: Annotated[float, Field(ge=0, le=24)] = Field(
        10.0,
        description="mean worn hours a day below this over the last low_wear_days days of data",
    )
    low_wear_days: Annotated[int, Field(ge=1, le=90)] = 7
    below_weeks_running: Annotated[int, Field(ge=1, le=52)] = Field(
        2, description="the latest K or more complete weeks all below the hour"
    )
    no_heart_rate_days: Annotated[int, Field(ge=1, le=365)] = Field(
        3, description="no heart rate in the last D days of data"
    )

    @model_validator(mode="before")
    @classmethod
    def _minutes_alias(cls, raw: Any) -> Any:
        """Studies written before hours: ``low_wear_minutes_per_day`` still reads, as hours / 60."""
        if isinstance(raw, dict) and "low_wear_minutes_per_day" in raw:
            raw = dict(raw)
            minutes = raw.pop("low_wear_minutes_per_day")
            if "low_wear_hours_per_day" in raw:
                raise ValueError(
                    "give low_wear_hours_per_day or low_wear_minutes_per_day, not both"
                )
            raw["low_wear_hours_per_day"] = (
                minutes / 60 if isinstance(minutes, int | float) else minutes
            )
        return raw


SmtpTls = Literal["none", "starttls", "ssl"]


class DigestSection(_Section):
    """The daily e-mail to staff (``irisin digest``). The SMTP password comes from IRISIN_SMTP_PASSWORD."""

    smtp_host: str = "localhost"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_tls: SmtpTls = "starttls"
    smtp_user: str | None = Field(
        None, description="login name; defaults to sender when a password is set"
    )
    sender: str = ""
    recipients: list[str] = Field(default_factory=list)
    cron: str = "0 7 * * *"
    send_when_nothing: bool = Field(True, description="send 'nothing to report' when no rule fired")
    dashboard_url: str = Field(
        "", description="link put in the mail, e.g. https://dashboard.example.org"
    )
    send_attempts: Annotated[int, Field(ge=1, le=10)] = 3

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"cron needs 5 fields (minute hour day month weekday), got {v!r}")
        return v

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if "@" not in a or any(c in a for c in " ,;<>\r\n")]
        if bad:
            raise ValueError(f"not e-mail addresses: {bad}")
        return v


class ScheduleSection(_Section):
    """When the nightly run happens."""

    cron: str = "0 3 * * *"
    timezone: str | None = Field(None, description="defaults to [study] timezone")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return None if v is None else _check_zone(v)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"cron needs 5 fields (minute hour day month weekday), got {v!r}")
        return v


class DashboardSection(_Section):
    """Where the dashboard listens. The password comes from IRISIN_DASHBOARD_PASSWORD or Streamlit secrets."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8501


ENGINE_ENV = "IRISIN_ENGINE"
"""Environment override of ``[execution] engine`` (``local`` or ``dask``)."""
DASK_ADDRESS_ENV = "IRISIN_DASK_ADDRESS"
"""Environment override of ``[execution] dask_address`` (``tcp://host:port`` of a Dask scheduler)."""

Engine = Literal["local", "dask"]


class ExecutionSection(_Section):
    """Where a backfill's and a rescore's participant shards run.

    ``local``: on this machine, FIT files read by a pool of worker processes.
    ``dask``: each shard is a task on a Dask cluster (``prefect_dask``), the
    scheduler at ``dask_address``; without an address a ``LocalCluster`` of
    ``dask_workers`` processes is started for the run. Every machine of the
    cluster must see the study folder at the same path. The engine never
    changes a result, so it is left out of the configuration hash.
    """

    engine: Engine = "local"
    dask_address: str | None = Field(
        None, description="scheduler address, e.g. tcp://10.0.0.5:8786 (engine = 'dask')"
    )
    dask_workers: Annotated[int, Field(ge=1, le=1024)] | None = Field(
        None,
        description="worker processes of a LocalCluster when no address is given (default: cores)",
    )

    @field_validator("dask_address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"{v!r}: expected a scheduler address like 'tcp://host:8786'")
        return v

    def resolved(self, environ: Mapping[str, str] | None = None) -> ExecutionSection:
        """These settings with ``IRISIN_ENGINE`` / ``IRISIN_DASK_ADDRESS`` applied (the environment wins)."""
        env = os.environ if environ is None else environ
        engine = env.get(ENGINE_ENV, "").strip() or self.engine
        address = env.get(DASK_ADDRESS_ENV, "").strip() or self.dask_address
        if engine not in ("local", "dask"):
            raise ConfigError(f"{ENGINE_ENV}={engine!r}: expected 'local' or 'dask'")
        try:
            return ExecutionSection(
                engine=engine, dask_address=address, dask_workers=self.dask_workers
            )
        except ValidationError as e:
            raise ConfigError(f"{DASK_ADDRESS_ENV}={address!r}: {e.errors()[0]['msg']}") from None


STORE_ENVIRONMENT: tuple[str, ...] = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")
"""What an ``s3://`` store needs from the environment (``AWS_ENDPOINT_URL`` too, unless the store is AWS itself)."""
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
"""The S3-compatible endpoint (e.g. ``http://minio.local:9000``); unset means AWS."""
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
"""An S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric."""


class StoreSection(_Section):
    """Where the lake, the derived tables and the run records live.

    Unset: in the study folder (``store/``, ``runs/``). ``s3://bucket/prefix``:
    on S3-compatible object storage. The endpoint and the credentials come
    only from the standard ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION`` environment variables, so
    ``study.toml`` (which is shared and versioned) never holds a secret. The
    warehouse file, the fingerprint cache and quarantine stay in the study
    folder: they are local caches and copies of local raw files. Where the
    store lives never changes a result, so it is left out of the hash.
    """

    url: str | None = Field(
        None, description="s3://bucket/prefix; unset keeps the store in the study folder"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        scheme, sep, rest = v.partition("://")
        if not sep or scheme != "s3":
            raise ValueError(
                f"{v!r}: expected 's3://bucket/prefix' (or no url for the study folder)"
            )
        if "@" in rest or "?" in rest or "#" in rest:
            raise ValueError(
                f"{v!r}: credentials and options never go in study.toml; "
                "set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL"
            )
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise ValueError(
                f"{v!r}: {bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
            )
        parts = [p for p in prefix.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"{v!r}: the prefix may not contain '.' or '..'")
        return "s3://" + "/".join([bucket, *parts])

    def missing_environment(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The environment variables an ``s3://`` store needs and lacks (none for a local store)."""
        if self.url is None:
            return []
        env = os.environ if environ is None else environ
        return [name for name in STORE_ENVIRONMENT if not env.get(name, "").strip()]


NOT_RESULT_SETTINGS: dict[str, Any] = {
    "execution": True,
    "store": True,
    "schedule": True,
    "dashboard": True,
    "digest": True,
    "ingest": {"max_concurrent_files": True, "backfill_batch_participants": True},
}
"""Settings that never change a number irisin computes, left out of the configuration hash:
the engine, the store's place, the schedule, the dashboard's address, the digest's mail, and
how many files and participants are read at once."""


class StudyConfig(_Section):
    """The whole ``study.toml``."""

    study: StudySection = Field(default_factory=StudySection)
    intensity: IntensitySection = Field(default_factory=IntensitySection)
    wear: WearSection = Field(default_factory=WearSection)
    scoring: ScoringSection = Field(default_factory=ScoringSection)
    ingest: IngestSection = Field(default_factory=IngestSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    digest: DigestSection = Field(default_factory=DigestSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    dashboard: DashboardSection = Field(default_factory=DashboardSection)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    store: StoreSection = Field(default_factory=StoreSection)

    def canonical_json(self) -> str:
        """Stable JSON of every resolved value that can change a result, for hashing and run_info.

        Settings of how fast, where and when the work runs, where it is kept and who
        hears of it (``NOT_RESULT_SETTINGS``) are left out: raising the readers from 4
        to 8 or moving the nightly to 02:00 must not mark every score stale.
        """
        return json.dumps(
            self.model_dump(mode="json", exclude=NOT_RESULT_SETTINGS),
            sort_keys=True,
            separators=(",", ":"),
        )

    def hash(self) -> str:
        """Short content hash: which configuration produced a result."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    @property
    def schedule_timezone(self) -> str:
        """The nightly's IANA time zone: ``[schedule] timezone``, else the study's own."""
        return self.schedule.timezone or self.study.timezone


def _format_errors(path: Path, err: ValidationError, raw: dict[str, Any]) -> str:
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        key = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else loc[0] if loc else "?"
        value: Any = raw
        for part in e["loc"]:
            value = value.get(part) if isinstance(value, dict) else None
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: {key} = {value!r}: {msg}")
    return "\n".join(lines)


def parse_study_config(text: str, path: Path = Path("study.toml")) -> StudyConfig:
    """Parse and validate ``study.toml`` content; errors name file, key, value and rule."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    try:
        cfg = StudyConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e, raw)) from None
    i = cfg.intensity
    for low, high, unit in (
        ("hrr_moderate_percent", "hrr_vigorous_percent", "%"),
        ("cadence_moderate_steps_per_minute", "cadence_vigorous_steps_per_minute", "steps/min"),
        ("mets_moderate", "mets_vigorous", "MET"),
    ):
        if getattr(i, low) >= getattr(i, high):
            raise ConfigError(
                f"{path}: [intensity] {low} = {getattr(i, low)} must be below {high} = {getattr(i, high)} ({unit})"
            )
    return cfg


def load_study_config(path: Path) -> StudyConfig:
    """Read ``study.toml``; a missing file means all defaults."""
    if not path.exists():
        return StudyConfig()
    return parse_study_config(path.read_text(encoding="utf-8"), path)
