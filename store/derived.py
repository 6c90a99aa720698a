"""Derived tables (weekly, daily, scores, cohort), one Parquet file each.

They are small next to the lake (rows per participant-week or -day), so each
is replaced whole and atomically; incremental runs compute only what changed
and merge it in before writing.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from config.schema import WEEKLY, conform
from store.atomic import write_with

DERIVED_TABLES: tuple[str, ...] = (
    "weekly",
    "daily",
    "hourly_wear",
    "participant_scores",
    "cohort_weekly",
    "exclusions",
    "data_notes",
)

CANONICAL_DERIVED = {"weekly": WEEKLY}
"""Derived tables with a canonical schema (``config.schema``): conformed to it when written."""


class DerivedTableDamaged(ValueError):
    """A derived table cannot be read; the message names its file."""


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
        """The table, None when it was never written; ``DerivedTableDamaged`` naming the file when it cannot be read."""
        p = self.path(name)
        if not p.exists():
            return None
        try:
            return pl.read_parquet(p)
        except Exception as exc:  # polars raises ComputeError and others for damaged Parquet
            raise DerivedTableDamaged(
                f"{p}: derived table cannot be read ({type(exc).__name__}: {exc}); "
                "it is rebuilt from the lake by the next nightly, or now by irisin repair"
            ) from exc

    def read_rebuildable(self, name: str) -> pl.DataFrame | None:
        """The table, or None when it is absent or damaged: for a caller that rebuilds it from the lake."""
        try:
            return self.read(name)
        except DerivedTableDamaged:
            return None

    def write(self, name: str, frame: pl.DataFrame) -> Path:
        """Replace the table whole, atomically (``store.atomic``).

        A table with a canonical schema (``CANONICAL_DERIVED``) is conformed to
        it first, so a frame of the wrong shape is refused (``SchemaError``
        naming the column) before anything is written.
        """
        p = self.path(name)
        schema = CANONICAL_DERIVED.get(name)
        if schema is None:
            write_with(p, lambda out: frame.write_parquet(out, compression="zstd"))
        else:
            table = conform(frame, schema)
            write_with(p, lambda out: pq.write_table(table, out, compression="zstd"))
        return p
