"""Derived tables (weekly, daily, scores, cohort), one Parquet file each.

They are small next to the lake (rows per participant-week or -day), so each
is replaced whole and atomically; incremental runs compute only what changed
and merge it in before writing.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import polars as pl

DERIVED_TABLES: tuple[str, ...] = ("weekly", "daily", "hourly_wear", "participant_scores", "cohort_weekly")


class DerivedStore:
    """Folder of derived Parquet tables."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def read(self, name: str) -> pl.DataFrame | None:
        p = self.path(name)
        return pl.read_parquet(p) if p.exists() else None

    def write(self, name: str, frame: pl.DataFrame) -> Path:
        p = self.path(name)
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}.tmp")
        frame.write_parquet(tmp, compression="zstd")
        os.replace(tmp, p)
        return p
