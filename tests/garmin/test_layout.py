"""Which export members the Garmin reader claims, in both layouts."""

from __future__ import annotations

import pytest

from ingest.garmin import GarminKind, classify_member, looks_like_garmin_export


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (
            "DI_CONNECT/DI-Connect-Aggregator/UDSFile_2025-01-01_2025-04-10.json",
            GarminKind.DAILY_SUMMARIES,
        ),
        (
            "DI_CONNECT/DI-Connect-User/UDSFile_2019-02-01_2019-05-12.json",
            GarminKind.DAILY_SUMMARIES,
        ),
        ("export/DI_CONNECT/DI-Connect-Aggregator/UDSFile_x.json", GarminKind.DAILY_SUMMARIES),
        ("DI-Connect-Aggregator/UDSFile_x.json", GarminKind.DAILY_SUMMARIES),
        (
            "DI_CONNECT/DI-Connect-Fitness/jo@example.org_0_summarizedActivities.json",
            GarminKind.ACTIVITIES,
        ),
        ("DI_CONNECT/DI-Connect-User/user_profile.json", GarminKind.USER_PROFILE),
        ("UDSFile_2025-01-01_2025-04-10.json", GarminKind.DAILY_SUMMARIES),
        ("jo_0_summarizedActivities.json", GarminKind.ACTIVITIES),
        ("downloads/UDSFile_2025-01-01_2025-04-10.json", GarminKind.DAILY_SUMMARIES),
        (
            "Garmin export (Jo)/DI-Connect-Fitness/jo_0_summarizedActivities.json",
            GarminKind.ACTIVITIES,
        ),
        ("user_profile.json", None),
        ("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip", None),
        ("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip!/123_ACTIVITY.fit", None),
        ("DI_CONNECT/DI-Connect-Wellness/2025-01-01_WELLNESS.fit", None),
        ("DI_CONNECT/DI-Connect-Metrics/UDSFile_x.json", None),
        ("DI_CONNECT/DI-Connect-Aggregator/UDSFile_x.json.bak", None),
        ("DI_CONNECT/DI-Connect-Fitness/personalRecord.json", None),
    ],
)
def test_member_kind_follows_the_file_name_at_any_depth(path: str, kind: GarminKind | None) -> None:
    assert classify_member(path) == kind


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["DI_CONNECT/DI-Connect-User/user_profile.json"], True),
        (["DI-Connect-Fitness/a_0_summarizedActivities.json"], True),
        (["Global Export Data/steps-2020-01-01.json", "Takeout/Fitbit/readme.txt"], False),
        (["DI_CONNECTED/notes.txt", "my-DI-Connect-notes.json"], False),
        (["UDSFile_2025-01-01_2025-04-10.json"], True),
        (["user_profile.json", "steps.json"], False),
        ([], False),
    ],
)
def test_export_detected_by_its_folders(paths: list[str], expected: bool) -> None:
    assert looks_like_garmin_export(paths) is expected
