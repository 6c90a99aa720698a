"""TCX and GPX activity files (Polar, Suunto, Wahoo, Strava, Garmin exports)."""

from ingest.activity_xml.reader import (
    looks_like_activity_xml,
    read_activity_file,
    read_activity_xml,
)

__all__ = ["looks_like_activity_xml", "read_activity_file", "read_activity_xml"]
