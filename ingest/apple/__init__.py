"""Apple Health exports (``export.zip`` / ``apple_health_export/export.xml``)."""

from ingest.apple.reader import (
    looks_like_apple_health_export,
    read_apple_health_export,
    read_export_xml,
)

__all__ = ["looks_like_apple_health_export", "read_apple_health_export", "read_export_xml"]
