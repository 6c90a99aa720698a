"""Garmin Connect export fixtures built in code from the documented fields.

No real Garmin export is public, so these are literal JSON days and
activities (``../shared/FORMATS.md`` section 3), arranged in either layout,
packed as a zip or left unpacked, with optional hostile members for the
archive layer's refusal tests: a corrupt nested zip, a zip-slip member, an
absolute path, a symlink, and zips nested deeper than the limit.

``build_garmin_export`` is the one entry point other test suites need.
"""

from __future__ import annotations

import datetime as dt
import io
import stat
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

from ingest.contract import Member

Layout = Literal["new", "old"]

UDS_FOLDER: dict[Layout, str] = {"new": "DI-Connect-Aggregator", "old": "DI-Connect-User"}
UPLOAD_FOLDER: dict[Layout, str] = {
    "new": "DI-Connect-Uploaded-Files",
    "old": "DI-Connect-Fitness-Uploaded-Files",
}

UDS_NAME = "UDSFile_2026-03-28_2026-07-05.json"
ACTIVITIES_NAME = "participant_0_summarizedActivities.json"


def uds_day(
    calendar_date: str,
    *,
    start_gmt: str,
    end_gmt: str,
    end_local: str,
    moderate: int,
    vigorous: int,
    steps: int,
    resting: int | None = 55,
    low: int | None = 48,
    high: int | None = 160,
) -> dict[str, Any]:
    """One UDSFile day object with the fields irisin reads and some it ignores."""
    return {
        "calendarDate": calendar_date,
        "totalSteps": steps,
        "moderateIntensityMinutes": moderate,
        "vigorousIntensityMinutes": vigorous,
        "userIntensityMinutesGoal": 150,
        "restingHeartRate": resting,
        "minHeartRate": low,
        "maxHeartRate": high,
        "wellnessStartTimeGmt": start_gmt,
        "wellnessStartTimeLocal": f"{calendar_date}T00:00:00.0",
        "wellnessEndTimeGmt": end_gmt,
        "wellnessEndTimeLocal": end_local,
        "durationInMilliseconds": 86_400_000,
        "includesWellnessData": True,
        "allDayStress": {"aggregatorList": [{"type": "TOTAL", "averageStressLevel": 31}]},
        "bodyBattery": {"chargedValue": 60, "drainedValue": 58},
    }


OSLO_DST_DAYS: list[dict[str, Any]] = [
    # Saturday before the change: CET all day, UTC+1.
    uds_day(
        "2026-03-28",
        start_gmt="2026-03-27T23:00:00.0",
        end_gmt="2026-03-28T23:00:00.0",
        end_local="2026-03-29T00:00:00.0",
        moderate=22,
        vigorous=14,
        steps=9_120,
    ),
    # Sunday 29 March 2026: clocks go from 02:00 CET to 03:00 CEST, a 23-hour day.
    uds_day(
        "2026-03-29",
        start_gmt="2026-03-28T23:00:00.0",
        end_gmt="2026-03-29T22:00:00.0",
        end_local="2026-03-30T00:00:00.0",
        moderate=0,
        vigorous=31,
        steps=12_004,
        resting=53,
        low=46,
        high=178,
    ),
    # Monday after: CEST all day, UTC+2.
    uds_day(
        "2026-03-30",
        start_gmt="2026-03-29T22:00:00.0",
        end_gmt="2026-03-30T22:00:00.0",
        end_local="2026-03-31T00:00:00.0",
        moderate=7,
        vigorous=0,
        steps=4_410,
        resting=None,
        low=None,
        high=None,
    ),
]
"""Three Europe/Oslo days around the 2026 spring DST change; 22 + 14 is 50 Garmin "intensity minutes"."""


ACTIVITIES: list[dict[str, Any]] = [
    {
        "activityId": 21_000_000_001,
        "name": "Oslo Running",
        "activityType": "running",
        "sportType": "RUNNING",
        "beginTimestamp": 1_774_692_000_000,  # 2026-03-28T10:00:00Z
        "startTimeLocal": 1_774_695_600_000,  # 11:00 CET
        "duration": 1_830_500.0,
        "elapsedDuration": 1_900_000.0,
        "movingDuration": 1_790_000.0,
        "distance": 512_300.0,
        "avgHr": 151.0,
        "maxHr": 176.0,
        "moderateIntensityMinutes": 8,
        "vigorousIntensityMinutes": 14,
        "steps": 5_210,
    },
    {
        "activityId": 21_000_000_002,
        "name": "Oslo Cycling",
        "activityType": "cycling",
        "sportType": "CYCLING",
        "beginTimestamp": 1_774_778_400_000,  # 2026-03-29T10:00:00Z
        "startTimeLocal": 1_774_785_600_000,  # 12:00 CEST
        "duration": 2_700_000.0,
        "movingDuration": 2_650_000.0,
        "avgHr": 138.0,
        "maxHr": 165.0,
        "moderateIntensityMinutes": 0,
        "vigorousIntensityMinutes": 31,
    },
]
"""Two activities either side of the Oslo DST change; the second has no elapsedDuration or steps."""


def uds_bytes(days: Sequence[Mapping[str, Any]] = OSLO_DST_DAYS) -> bytes:
    return orjson.dumps(list(days))


def activities_bytes(activities: Sequence[Mapping[str, Any]] = ACTIVITIES) -> bytes:
    """The documented shape: a root array holding one ``summarizedActivitiesExport`` object."""
    return orjson.dumps([{"summarizedActivitiesExport": list(activities)}])


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip holding ``files`` (name -> bytes), in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def corrupt_zip_bytes() -> bytes:
    """Starts like a zip (local header magic) but has no central directory."""
    return b"PK\x03\x04" + b"\x14\x00\x00\x00\x08\x00" + b"\xde\xad\xbe\xef" * 64


def nested_deeper_than(levels: int, payload: bytes, name: str = "deep.fit") -> bytes:
    """A zip holding a zip ... ``levels`` deep, the innermost holding ``payload`` as ``name``."""
    data = zip_bytes({name: payload})
    for level in range(levels - 1):
        data = zip_bytes({f"level{levels - 1 - level}.zip": data})
    return data


def export_members(
    layout: Layout = "new",
    *,
    fit_files: Mapping[str, bytes] | None = None,
    wellness_fit_files: Mapping[str, bytes] | None = None,
    corrupt_nested: bool = False,
    days: Sequence[Mapping[str, Any]] = OSLO_DST_DAYS,
    activities: Sequence[Mapping[str, Any]] = ACTIVITIES,
) -> dict[str, bytes]:
    """Member path (under the export root) -> bytes, for a well-formed export in ``layout``.

    ``fit_files`` go into a nested ``UploadedFiles_0-_Part1.zip``;
    ``wellness_fit_files`` sit loose under ``DI-Connect-Wellness/``;
    ``corrupt_nested`` adds ``UploadedFiles_1-_Part2.zip`` with corrupt bytes.
    """
    root = "DI_CONNECT"
    members = {
        f"{root}/{UDS_FOLDER[layout]}/{UDS_NAME}": uds_bytes(days),
        f"{root}/DI-Connect-Fitness/{ACTIVITIES_NAME}": activities_bytes(activities),
        f"{root}/DI-Connect-User/user_profile.json": orjson.dumps({"userName": "participant"}),
    }
    if fit_files:
        members[f"{root}/{UPLOAD_FOLDER[layout]}/UploadedFiles_0-_Part1.zip"] = zip_bytes(fit_files)
    for name, data in (wellness_fit_files or {}).items():
        members[f"{root}/DI-Connect-Wellness/{name}"] = data
    if corrupt_nested:
        members[f"{root}/{UPLOAD_FOLDER[layout]}/UploadedFiles_1-_Part2.zip"] = corrupt_zip_bytes()
    return members


ZIP_SLIP_PATH = "../../escaped.json"
ABSOLUTE_PATH = "/etc/irisin-absolute.json"
SYMLINK_PATH = "DI_CONNECT/DI-Connect-User/linked.json"
DEEP_ZIP_PATH = "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_9-_Part9.zip"


def write_export_zip(
    path: Path,
    members: Mapping[str, bytes],
    *,
    zip_slip: bool = False,
    absolute: bool = False,
    symlink: bool = False,
    deep_nesting: int = 0,
) -> Path:
    """Write ``members`` as a zip, plus the hostile members asked for.

    ``zip_slip`` adds ``ZIP_SLIP_PATH``; ``absolute`` adds ``ABSOLUTE_PATH``;
    ``symlink`` adds ``SYMLINK_PATH`` as a Unix symlink to ``/etc/passwd``;
    ``deep_nesting=n`` adds ``DEEP_ZIP_PATH`` holding zips ``n`` levels deep
    (so the innermost member sits at depth ``n + 1`` counting the export).
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if zip_slip:
            archive.writestr(zipfile.ZipInfo(ZIP_SLIP_PATH), b"[]")
        if absolute:
            archive.writestr(zipfile.ZipInfo(ABSOLUTE_PATH), b"[]")
        if symlink:
            info = zipfile.ZipInfo(SYMLINK_PATH)
            info.create_system = 3  # Unix, so external_attr carries the file mode
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, b"/etc/passwd")
        if deep_nesting:
            archive.writestr(DEEP_ZIP_PATH, nested_deeper_than(deep_nesting, b"not really FIT"))
    return path


def write_export_folder(root: Path, members: Mapping[str, bytes]) -> Path:
    """Write ``members`` unpacked under ``root``, as a participant who unzipped the download."""
    for name, data in members.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def build_garmin_export(
    tmp_path: Path,
    layout: Layout = "new",
    *,
    packed: bool = True,
    fit_files: Mapping[str, bytes] | None = None,
    wellness_fit_files: Mapping[str, bytes] | None = None,
    corrupt_nested: bool = False,
    zip_slip: bool = False,
    absolute: bool = False,
    symlink: bool = False,
    deep_nesting: int = 0,
) -> Path:
    """A Garmin export in ``tmp_path``: ``garmin_<layout>.zip`` when ``packed``, else a folder.

    Hostile members (``zip_slip``, ``absolute``, ``symlink``,
    ``deep_nesting``) need ``packed=True``.
    """
    members = export_members(
        layout,
        fit_files=fit_files,
        wellness_fit_files=wellness_fit_files,
        corrupt_nested=corrupt_nested,
    )
    if not packed:
        if zip_slip or absolute or symlink or deep_nesting:
            raise ValueError("hostile members only exist inside a zip")
        return write_export_folder(tmp_path / f"garmin_{layout}", members)
    return write_export_zip(
        tmp_path / f"garmin_{layout}.zip",
        members,
        zip_slip=zip_slip,
        absolute=absolute,
        symlink=symlink,
        deep_nesting=deep_nesting,
    )


def members_of(path: Path) -> list[Member]:
    """Top-level members of a zip or folder as ``Member``s, nested zips left closed.

    A test-side stand-in for ``ingest.archive``: enough to hand the Garmin
    reader its JSON members without depending on the archive layer.
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return [
            Member(p.relative_to(path).as_posix(), p.stat().st_size, p.read_bytes) for p in files
        ]
    with zipfile.ZipFile(path) as archive:
        contents = {
            info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()
        }
    return [Member(name, len(data), _constant(data)) for name, data in contents.items()]


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


# -- minute truth for the demo writer -------------------------------------------------------

_LEVEL = {"light": (40, 90.0), "moderate": (100, 120.0), "vigorous": (140, 150.0)}
"""Steps and heart rate of a truth minute at each level."""


def _truth_minutes(start: dt.datetime, offset: int, levels: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "minute_utc": start + dt.timedelta(minutes=i),
            "utc_offset_minutes": offset,
            "steps": _LEVEL[level][0],
            "heart_rate_bpm": _LEVEL[level][1],
            "intensity": level,
        }
        for i, level in enumerate(levels)
    ]


def oslo_dst_truth() -> pl.DataFrame:
    """Worn minutes on three Europe/Oslo days around the 2026 DST change, written minute by minute.

    28 March (CET): 12 moderate minutes in a row, 3 light, and later three
    single vigorous minutes between light ones. 29 March (CEST from 03:00):
    10 vigorous minutes from 09:00 local, 2 light. 30 March: 1 light, 5 moderate.
    """
    utc = dt.UTC
    rows = (
        _truth_minutes(
            dt.datetime(2026, 3, 28, 9, 0, tzinfo=utc), 60, ["moderate"] * 12 + ["light"] * 3
        )
        + _truth_minutes(dt.datetime(2026, 3, 28, 17, 0, tzinfo=utc), 60, ["vigorous", "light"] * 3)
        + _truth_minutes(
            dt.datetime(2026, 3, 29, 7, 0, tzinfo=utc), 120, ["vigorous"] * 10 + ["light"] * 2
        )
        + _truth_minutes(
            dt.datetime(2026, 3, 30, 16, 0, tzinfo=utc), 120, ["light"] + ["moderate"] * 5
        )
    )
    schema = pl.Schema(
        {
            "minute_utc": pl.Datetime("us", "UTC"),
            "utc_offset_minutes": pl.Int16(),
            "steps": pl.Int32(),
            "heart_rate_bpm": pl.Float32(),
            "intensity": pl.String(),
        }
    )
    return pl.DataFrame(rows, schema=schema)


OSLO_SESSIONS = pl.DataFrame(
    {
        "start_utc": [dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)],
        "end_utc": [dt.datetime(2026, 3, 29, 7, 10, tzinfo=dt.UTC)],
        "sport": ["running"],
    },
    schema=pl.Schema(
        {
            "start_utc": pl.Datetime("us", "UTC"),
            "end_utc": pl.Datetime("us", "UTC"),
            "sport": pl.String(),
        }
    ),
)
"""The 29 March vigorous run as an exercise session."""
