"""What a decoded FIT file says about itself: its type, device and local-time offset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.fit.decode import Column, DecodedFit, MessageTable
from ingest.fit.profile import value_name

ACTIVITY_TYPES = frozenset({4})
MONITORING_TYPES = frozenset({15, 28, 32})
"""``file_id.type`` values of wellness files: monitoring_a, monitoring_daily, monitoring_b."""

SKIPPED_TYPE_NAMES = {49: "sleep", 68: "hrv"}
"""File types seen in real Garmin exports that SDK profiles do not name."""


@dataclass(frozen=True)
class FileInfo:
    """The facts the canonical mapping needs from ``file_id`` and the offset messages."""

    file_type: int | None
    type_name: str
    device: str | None
    time_created: int | None
    """FIT seconds."""
    utc_offset_s: int | None
    offset_source: str | None


def first_valid(table: MessageTable, name: str, *, text: bool = False) -> float | int | str | None:
    """The first valid scalar value of a numeric column (a text column with ``text``), or None.

    A column of another shape or kind than expected (possible in damaged or odd
    files) counts as absent.
    """
    col = table.get(name)
    if col is None or col.values.ndim != 1 or col.valid.ndim != 1 or not col.valid.any():
        return None
    if (col.values.dtype.kind == "O") != text or (not text and col.values.dtype.kind not in "iuf"):
        return None
    value = col.values[int(np.argmax(col.valid))]
    scalar: float | int | str = value.item() if hasattr(value, "item") else value
    return scalar


def _type_name(file_type: int | None) -> str:
    if file_type is None:
        return "unknown"
    return SKIPPED_TYPE_NAMES.get(file_type) or value_name("file", file_type) or str(file_type)


def device_label(file_id: MessageTable) -> str | None:
    """``manufacturer product (serial N)`` from ``file_id``, with profile names where known."""
    manufacturer = first_valid(file_id, "manufacturer")
    if manufacturer is None:
        return None
    maker = value_name("manufacturer", int(manufacturer))
    product_name = None
    if "product_name" in file_id:
        product_name = first_valid(file_id, "product_name", text=True)
    garmin_product = first_valid(file_id, "garmin_product")
    product = first_valid(file_id, "product")
    if product_name is None and garmin_product is not None:
        product_name = value_name("garmin_product", int(garmin_product))
    if product_name is None and product is not None:
        product_name = f"product {int(product)}"
    serial = first_valid(file_id, "serial_number")
    label = " ".join(str(p) for p in (maker, product_name) if p)
    return f"{label} (serial {int(serial)})" if serial is not None else label


def _offset_from(table: MessageTable, local_name: str) -> int | None:
    local = table.get(local_name)
    stamp = table.get("timestamp")
    if local is None or stamp is None or local.values.ndim != 1 or stamp.values.ndim != 1:
        return None
    if local.values.dtype.kind not in "iu" or stamp.values.dtype.kind not in "iu":
        return None
    ok = local.valid & stamp.valid
    if not ok.any():
        return None
    i = int(np.argmax(ok))
    return int(local.values[i]) - int(stamp.values[i])


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def _device_settings_offset(settings: MessageTable) -> int | None:
    """``device_settings.time_offset`` is unsigned in the profile but holds a signed offset (s)."""
    col: Column | None = settings.get("time_offset")
    if col is None or not len(settings):
        return None
    values, valid = col.values, col.valid
    zone = first_valid(settings, "active_time_zone")
    if values.dtype.kind not in "iu" or values.ndim != valid.ndim:
        return None  # not the profile's uint32 (array): unusable
    if values.ndim == 2:
        index = int(zone) if zone is not None and 0 <= int(zone) < values.shape[1] else 0
        values, valid = values[:, index], valid[:, index]
    if not valid.any():
        return None
    return _signed32(int(values[int(np.argmax(valid))]))


def file_info(decoded: DecodedFit) -> FileInfo:
    """File type, device, creation time and UTC offset (seconds, local minus UTC) of a decoded file."""
    file_id = decoded["file_id"]
    raw_type = first_valid(file_id, "type")
    file_type = int(raw_type) if raw_type is not None else None
    created = first_valid(file_id, "time_created")
    offset, source = None, None
    for table_name, field, label in (
        ("monitoring_info", "local_timestamp", "monitoring_info.local_timestamp"),
        ("activity", "local_timestamp", "activity.local_timestamp"),
    ):
        if offset is None and table_name in decoded:
            offset = _offset_from(decoded[table_name], field)
            source = label if offset is not None else None
    if offset is None and "device_settings" in decoded:
        offset = _device_settings_offset(decoded["device_settings"])
        source = "device_settings.time_offset" if offset is not None else None
    if offset is not None and abs(offset) > 18 * 3600:
        offset, source = None, None  # not a plausible zone offset: treat as unknown
    return FileInfo(
        file_type=file_type,
        type_name=_type_name(file_type),
        device=device_label(file_id),
        time_created=int(created) if created is not None else None,
        utc_offset_s=offset,
        offset_source=source,
    )
