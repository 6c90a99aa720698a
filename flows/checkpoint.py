"""The resumable state of a backfill: which participant batches are done.

A backfill is keyed by what it was asked to do (participants, dates, source
folder, batch size); its checkpoint lives in
``<study>/runs/backfill-<key>/checkpoint.json`` and is replaced atomically
after every finished batch. Starting the same backfill again after a crash
skips the batches recorded there; the lake makes redoing a half-finished
batch harmless (bytes already ingested are skipped by file id). Once a
backfill finishes, the next one with the same key starts from the beginning.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.jobs import participant_shards
from store.atomic import write_text

CHECKPOINT_FILE = "checkpoint.json"


@dataclass(frozen=True)
class BackfillBatch:
    """One unit of a backfill: a few participants, ingested one after the other by one task."""

    index: int
    participants: tuple[str, ...]


def plan_batches(participants: list[str], batch_size: int) -> list[BackfillBatch]:
    """Cut the sorted cohort into consecutive batches of ``batch_size`` participants
    (larger batches when that would make more than ``MAX_SHARDS``: a batch is a task run)."""
    return [
        BackfillBatch(k, tuple(shard))
        for k, shard in enumerate(participant_shards(participants, batch_size))
    ]


def backfill_key(parameters: dict[str, Any]) -> str:
    """Stable short id of a backfill's parameters: the same request resumes the same checkpoint."""
    canonical = json.dumps(parameters, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_text(path, json.dumps(data, indent=2, default=str))


class Checkpoint:
    """Done batches of one backfill, persisted after each one (thread-safe)."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self.path = folder / CHECKPOINT_FILE
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def resume_or_start(
        cls, runs_dir: Path, parameters: dict[str, Any], batches: list[BackfillBatch]
    ) -> Checkpoint:
        """The unfinished checkpoint of this exact backfill, or a fresh one (also after a finished run)."""
        key = backfill_key({**parameters, "batches": [list(b.participants) for b in batches]})
        folder = runs_dir / f"backfill-{key}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CHECKPOINT_FILE
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("finished_at") is None:
                return cls(folder, data)
        data = {
            "key": key,
            "parameters": parameters,
            "batches": [list(b.participants) for b in batches],
            "started_at": datetime.now(UTC).isoformat(),
            "done": {},
            "finished_at": None,
        }
        checkpoint = cls(folder, data)
        _write_json_atomic(path, data)
        return checkpoint

    @property
    def key(self) -> str:
        return str(self.data["key"])

    def is_done(self, index: int) -> bool:
        return str(index) in self.data["done"]

    def done_count(self) -> int:
        return len(self.data["done"])

    def done_files(self) -> int:
        return sum(int(d["files"]) for d in self.data["done"].values())

    def mark_done(self, index: int, *, files: int, minute_rows: int) -> None:
        """Record a finished batch and persist the checkpoint."""
        with self._lock:
            self.data["done"][str(index)] = {
                "finished_at": datetime.now(UTC).isoformat(),
                "files": files,
                "minute_rows": minute_rows,
            }
            _write_json_atomic(self.path, self.data)

    def finish(self, run_id: str) -> None:
        """The whole backfill (ingest, derive, publish) is done: the next one with this key starts afresh."""
        with self._lock:
            self.data["finished_at"] = datetime.now(UTC).isoformat()
            self.data["run_id"] = run_id
            _write_json_atomic(self.path, self.data)
