"""Exports laid out as people drop them into the inbox, not as the exporter wrote them.

A coordinator copies what a participant hands over: the legacy account
archive's ``user-site-export/`` folder on its own, the whole ``MyFitbitData/<Name>/``
tree (as Fitbit ships it, ``MyFitbitData.zip`` packed at ``zip -9``: it expands
more than 20 times), a Takeout whose Fitbit folder was renamed. The demo moves some
participants' files into those shapes (bytes unchanged), so the pipeline is
tested on recognition by file names and contents rather than by folder names.
"""

from __future__ import annotations

import shutil
import zipfile
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


def _zip(folder: Path, level: int) -> None:
    """Replace ``folder`` by ``folder.zip`` packed at Deflate ``level``, with fixed times.

    A real export packed at level 9 (``zip -9``) expands more than 20 times
    (refused whole by the 20x limit of old); the demo keeps one such archive in
    the inbox.
    """
    archive = folder.with_name(f"{folder.name}.zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(
                f.relative_to(folder.parent).as_posix(), (2025, 11, 3, 10, 15, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, f.read_bytes(), compresslevel=level)
    shutil.rmtree(folder)


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
        _zip(folder / "MyFitbitData", 9)  # as Fitbit ships it: MyFitbitData.zip, packed hard
    elif how == "renamed-takeout":  # a 2025 Takeout root with its Fitbit folder renamed
        _move_files(
            folder / "takeout-csv" / "Takeout" / "Fitbit" / "Physical Activity_GoogleData",
            folder / "takeout-20251103T101500Z-001" / "Takeout" / "Fitbit (from Jo)" / "Activity",
        )
        shutil.rmtree(folder / "takeout-csv")
        # as Google delivers it: one zip at the usual Deflate level
        _zip(folder / "takeout-20251103T101500Z-001", 6)
