"""Quarantine: a copy of every refused file with a sidecar saying why.

Raw data is never moved or altered: the original stays where it was, the copy
lands under ``quarantine/<file_id>/`` next to ``reason.json``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from store.atomic import write_bytes


def quarantine(
    root: Path, *, file_id: str, path: str, participant_id: str, reason: str, data: bytes
) -> Path:
    """Copy ``data`` into the quarantine with its reason; idempotent per file_id."""
    folder = Path(root) / file_id[:32]
    folder.mkdir(parents=True, exist_ok=True)
    name = path.replace("!/", "/").rsplit("/", 1)[-1] or "unnamed"
    target = folder / name
    if not target.exists():
        write_bytes(target, data)
    sidecar = {
        "file_id": file_id,
        "path": path,
        "participant_id": participant_id,
        "reason": reason,
        "size_bytes": len(data),
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    reason_path = folder / "reason.json"
    if not reason_path.exists():
        write_bytes(reason_path, json.dumps(sidecar, indent=2).encode())
    return target
