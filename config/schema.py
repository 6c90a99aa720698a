"""The canonical tables of irisin, defined once.

Every reader produces these tables, the store persists them, the features
layer consumes them. Each column carries a one-line meaning and its unit as
Arrow field metadata, so the definition travels with every Parquet file and
``irisin export`` output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

INTENSITY_LEVELS: tuple[str, ...] = ("sedentary", "light", "moderate", "vigorous")
"""Device intensity labels, in increasing order; the rank is the index."""

FILE_STATUSES: tuple[str, ...] = ("ok", "partial", "quarantined", "skipped", "superseded")
"""Outcome of one ingested file: fully read, read up to damage, refused, not a data
file, or replaced by a newer version of the same file (its rows retired)."""

WEEK_STATUSES: tuple[str, ...] = ("met", "below", "insufficient")

PLAUSIBLE_HEART_RATE_BPM: tuple[float, float] = (20.0, 220.0)
"""Heart-rate samples outside this range are impossible: readers drop them before averaging a minute
(so 0/300 bpm alternating never averages to 150), and ``features.plausibility`` keeps such minutes
out of classification."""


@dataclass(frozen=True)
class Column:
    """One column of a canonical table: name, Arrow type, meaning and unit."""

    name: str
    type: pa.DataType
    meaning: str
    unit: str = ""
    nullable: bool = True

    def field(self) -> pa.Field:
        meta = {"meaning": self.meaning}
        if self.unit:
            meta["unit"] = self.unit
        return pa.field(self.name, self.type, nullable=self.nullable, metadata=meta)


def _schema(name: str, doc: str, columns: list[Column]) -> pa.Schema:
    return pa.schema([c.field() for c in columns], metadata={"table": name, "doc": doc})


_PARTICIPANT = Column(
    "participant_id", pa.string(), "participant as named in the roster", nullable=False
)
_SOURCE = Column(
    "source",
    pa.string(),
    "reader that produced the row: fit_monitoring, fit_activity, fitbit_takeout, fitabase, garmin_export, apple_health, activity_xml (TCX/GPX), fitbit_hr_zones (Fitbit daily time in heart-rate zones)",
    nullable=False,
)
_DEVICE = Column("device", pa.string(), "device make/model (and serial where known)")
_FILE_ID = Column(
    "file_id", pa.string(), "SHA-256 of the raw file bytes the row came from", "hex", nullable=False
)
_OFFSET = Column(
    "utc_offset_minutes", pa.int16(), "local time minus UTC, as the device reported it", "min"
)

MINUTES = _schema(
    "minutes",
    "one row per participant, source and UTC minute",
    [
        _PARTICIPANT,
        _SOURCE,
        _DEVICE,
        Column("minute_utc", UTC_TS, "start of the minute", "UTC", nullable=False),
        _OFFSET,
        Column("steps", pa.int32(), "steps counted in the minute", "steps"),
        Column("heart_rate_bpm", pa.float32(), "mean heart rate over the minute", "beats/min"),
        Column(
            "intensity",
            pa.string(),
            "the device's own label: sedentary, light, moderate or vigorous",
        ),
        Column("mets", pa.float32(), "metabolic equivalent reported by the device", "MET"),
        Column(
            "worn", pa.bool_(), "the device's own wear flag for the minute, where it reports one"
        ),
        _FILE_ID,
    ],
)

DAILY_TOTALS = _schema(
    "daily_totals",
    "device-reported totals per local day, for sources that give days",
    [
        _PARTICIPANT,
        _SOURCE,
        _DEVICE,
        Column(
            "local_date",
            pa.date32(),
            "calendar day in the participant's local time",
            "date",
            nullable=False,
        ),
        _OFFSET,
        Column(
            "moderate_minutes",
            pa.int32(),
            "device-reported moderate minutes (clock minutes, never doubled)",
            "min",
        ),
        Column(
            "vigorous_minutes",
            pa.int32(),
            "device-reported vigorous minutes (clock minutes, never doubled)",
            "min",
        ),
        Column("light_minutes", pa.int32(), "device-reported light minutes", "min"),
        Column("sedentary_minutes", pa.int32(), "device-reported sedentary minutes", "min"),
        Column("steps", pa.int32(), "steps in the day", "steps"),
        Column(
            "resting_heart_rate_bpm", pa.float32(), "resting heart rate of the day", "beats/min"
        ),
        Column("min_heart_rate_bpm", pa.float32(), "lowest heart rate of the day", "beats/min"),
        Column("max_heart_rate_bpm", pa.float32(), "highest heart rate of the day", "beats/min"),
        Column(
            "worn",
            pa.bool_(),
            "false where the device says it was not worn that day (e.g. 1440 sedentary minutes)",
        ),
        Column(
            "bouted",
            pa.bool_(),
            "true when the device only counts activity in bouts (e.g. Fitbit's legacy 10-minute rule)",
            nullable=False,
        ),
        _FILE_ID,
    ],
)

SESSIONS = _schema(
    "sessions",
    "exercise sessions as the device recorded them",
    [
        _PARTICIPANT,
        _SOURCE,
        _DEVICE,
        Column("session_key", pa.string(), "the device's id for the session, or its start time"),
        Column("start_utc", UTC_TS, "session start", "UTC", nullable=False),
        Column("end_utc", UTC_TS, "session end (start plus elapsed time)", "UTC"),
        _OFFSET,
        Column("sport", pa.string(), "sport or activity type as the device names it"),
        Column("timer_seconds", pa.float64(), "active (timer) duration", "s"),
        Column("avg_heart_rate_bpm", pa.float32(), "average heart rate", "beats/min"),
        Column("max_heart_rate_bpm", pa.float32(), "maximum heart rate", "beats/min"),
        Column(
            "moderate_minutes",
            pa.int32(),
            "device-reported moderate minutes (clock minutes)",
            "min",
        ),
        Column(
            "vigorous_minutes",
            pa.int32(),
            "device-reported vigorous minutes (clock minutes)",
            "min",
        ),
        Column("steps", pa.int32(), "steps in the session", "steps"),
        _FILE_ID,
    ],
)

PROFILES = _schema(
    "profiles",
    "physiological settings a device reported (for heart-rate-reserve classification)",
    [
        _PARTICIPANT,
        _SOURCE,
        _DEVICE,
        Column("observed_utc", UTC_TS, "time of the file that reported the values", "UTC"),
        Column("age_years", pa.int16(), "age the user entered on the device", "years"),
        Column(
            "resting_heart_rate_bpm",
            pa.float32(),
            "resting heart rate setting or measure",
            "beats/min",
        ),
        Column("max_heart_rate_bpm", pa.float32(), "maximum heart rate setting", "beats/min"),
        Column(
            "birth_year",
            pa.int16(),
            "year of birth from the export's own account profile (Fitbit Profile.csv, Garmin "
            "user_profile.json); only the year is kept, never the date",
            "year",
        ),
        _FILE_ID,
    ],
)

FILES = _schema(
    "files",
    "the ingest manifest: one row per raw file or archive member seen",
    [
        _FILE_ID,
        Column(
            "path",
            pa.string(),
            "original path; archive members as 'archive.zip!/member'",
            nullable=False,
        ),
        Column("container_id", pa.string(), "file_id of the archive this member came from", "hex"),
        _PARTICIPANT,
        Column(
            "kind",
            pa.string(),
            "detected kind, e.g. fit_monitoring, fitbit_json_steps, zip",
            nullable=False,
        ),
        Column("size_bytes", pa.int64(), "size of the raw bytes", "bytes", nullable=False),
        Column(
            "status",
            pa.string(),
            "ok, partial, quarantined, skipped or superseded (retired when a retirement names it)",
            nullable=False,
        ),
        Column("reason", pa.string(), "why the file is partial, quarantined or skipped"),
        Column("rows_minutes", pa.int64(), "rows written to minutes", "rows", nullable=False),
        Column(
            "rows_daily_totals", pa.int64(), "rows written to daily_totals", "rows", nullable=False
        ),
        Column("rows_sessions", pa.int64(), "rows written to sessions", "rows", nullable=False),
        Column("notes", pa.string(), "JSON of what the reader learned (device, clock, offset)"),
        Column("ingested_at", UTC_TS, "when the file was ingested", "UTC", nullable=False),
        Column(
            "reader_versions",
            pa.string(),
            "JSON {reader family: version} of the readers that decided the file (ingest.versions)",
        ),
        Column(
            "settings",
            pa.string(),
            "JSON of the study settings that decided the file (archive limits, participant mapping)",
        ),
        Column("settings_hash", pa.string(), "short hash of ``settings``", "hex"),
    ],
)

RETIRED = _schema(
    "retired",
    "retirements: manifest rows (and the rows their files wrote) that no longer count;"
    " the parts stay in the lake as history",
    [
        _PARTICIPANT,
        Column("batch_id", pa.string(), "lake batch that holds the retired rows", nullable=False),
        _FILE_ID,
        Column("reason", pa.string(), "why, e.g. 'irisin forget' or 'reader version changed'"),
        Column("retired_at", UTC_TS, "when the rows were retired", "UTC", nullable=False),
    ],
)

WEEKLY = _schema(
    "weekly",
    "one row per participant and local week: minutes of at least moderate intensity, counted once",
    [
        _PARTICIPANT,
        Column(
            "week_start",
            pa.date32(),
            "first local day of the week (Monday unless study-relative)",
            "date",
            nullable=False,
        ),
        Column(
            "moderate_minutes", pa.int32(), "minutes classified moderate", "min", nullable=False
        ),
        Column(
            "vigorous_minutes", pa.int32(), "minutes classified vigorous", "min", nullable=False
        ),
        Column(
            "mvpa_minutes",
            pa.int32(),
            "moderate plus vigorous clock minutes",
            "min",
            nullable=False,
        ),
        Column("wear_minutes", pa.int32(), "minutes the device was worn", "min", nullable=False),
        Column(
            "valid_days",
            pa.int8(),
            "days with at least min_wear_minutes_per_day of wear",
            "days",
            nullable=False,
        ),
        Column("status", pa.string(), "met, below or insufficient", nullable=False),
        Column("sources", pa.string(), "sources that contributed, comma-separated"),
        Column("methods", pa.string(), "classification methods used, comma-separated"),
        Column("from_daily_totals", pa.int8(), "days filled from device daily totals", "days"),
        Column(
            "config_hash",
            pa.string(),
            "hash of the resolved study.toml and roster that produced the row (run_info.json and irisin check show the same)",
        ),
        Column(
            "moderate_equivalent_minutes",
            pa.int32(),
            "moderate plus twice vigorous minutes (WHO 2020 equivalence; a secondary figure, the status uses clock minutes)",
            "min",
        ),
        Column(
            "hr_params",
            pa.string(),
            "where the heart-rate-reserve parameters came from: roster, device, estimated, or none (heart rate not used)",
        ),
        Column(
            "share_device",
            pa.float32(),
            "share of the week's classified minutes the device's own label classified",
            "fraction",
        ),
        Column(
            "share_heart_rate",
            pa.float32(),
            "share of the week's classified minutes heart-rate reserve classified",
            "fraction",
        ),
        Column(
            "share_cadence",
            pa.float32(),
            "share of the week's classified minutes cadence classified",
            "fraction",
        ),
        Column(
            "share_mets",
            pa.float32(),
            "share of the week's classified minutes METs classified",
            "fraction",
        ),
    ],
)

WEEKLY_EXPORT_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "week_start",
    "moderate_minutes",
    "vigorous_minutes",
    "mvpa_minutes",
    "wear_minutes",
    "valid_days",
    "status",
)
"""The exact columns of ``irisin export weekly``."""

LAKE_TABLES: dict[str, pa.Schema] = {
    "minutes": MINUTES,
    "daily_totals": DAILY_TOTALS,
    "sessions": SESSIONS,
    "profiles": PROFILES,
}
"""Data tables written by readers, keyed by table name."""

TABLES: dict[str, pa.Schema] = {
    **LAKE_TABLES,
    "files": FILES,
    "retired": RETIRED,
    "weekly": WEEKLY,
}


def empty(schema: pa.Schema) -> pa.Table:
    """An empty table of a canonical schema."""
    return schema.empty_table()


def describe(schema: pa.Schema) -> list[tuple[str, str, str, str]]:
    """(column, type, unit, meaning) rows, for docs and ``irisin schema``."""
    out = []
    for f in schema:
        meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        out.append((f.name, str(f.type), meta.get("unit", ""), meta.get("meaning", "")))
    return out
