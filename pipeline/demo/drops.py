"""Exports laid out as people drop them into the inbox, not as the exporter wrote them.

A coordinator copies what a participant hands over: the legacy account
archive's ``user-site-export/`` folder on its own, the whole ``MyFitbitData/<Name>/``
tree, a Takeout whose Fitbit folder was renamed. The demo moves some
participants' files into those shapes (bytes unchanged), so the pipeline is
tested on recognition by file names and contents rather than by folder names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DROPS: dict[str, str] = {
    "P04": "user-site-export",
    "P11": "MyFitbitData",
    "P05": "renamed-takeout",
}
"""Participant -> how their export is dropped (participants not listed keep the exporter's layout)."""


def _move_files(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        shutil.move(str(f), dest / f.name)


def drop_as_people_do(participant_id: str, folder: Path) -> None:
    """Rearrange a participant's freshly written inbox folder into the shape ``DROPS`` names."""
    how = DROPS.get(participant_id)
    if how == "user-site-export":  # just the data folder of a legacy archive
        _move_files(
            folder / "takeout-json" / "Takeout" / "Fitbit" / "Global Export Data",
            folder / "user-site-export",
        )
        shutil.rmtree(folder / "takeout-json")
    elif (
        how == "MyFitbitData"
    ):  # the whole unzipped legacy archive, per-category folder under the account name
        _move_files(
            folder / "takeout-json" / "Takeout" / "Fitbit" / "Global Export Data",
            folder / "MyFitbitData" / "DemoParticipant" / "Physical Activity",
        )
        shutil.rmtree(folder / "takeout-json")
    elif how == "renamed-takeout":  # a 2025 Takeout root with its Fitbit folder renamed
        _move_files(
            folder / "takeout-csv" / "Takeout" / "Fitbit" / "Physical Activity_GoogleData",
            folder / "takeout-20251103T101500Z-001" / "Takeout" / "Fitbit (from Jo)" / "Activity",
        )
        shutil.rmtree(folder / "takeout-csv")
