"""Garmin Connect account exports ("request your data" zips), read directly.

Public API::

    looks_like_garmin_export(paths) -> bool
    read_garmin_export(members, ctx) -> dict[str, ReadResult]   # BundleReader, source "garmin_export"

``UDSFile_*.json`` daily summaries become ``daily_totals`` and
``*_summarizedActivities.json`` become ``sessions``. FIT uploads inside the
export (nested ``UploadedFiles_*.zip``) are read by the pipeline with
irisin's FIT reader, not here; archive handling lives in ``ingest.archive``.
"""

from ingest.garmin.layout import GarminKind, classify_member, looks_like_garmin_export
from ingest.garmin.reader import read_garmin_export
from ingest.garmin.tables import SOURCE

__all__ = [
    "SOURCE",
    "GarminKind",
    "classify_member",
    "looks_like_garmin_export",
    "read_garmin_export",
]
