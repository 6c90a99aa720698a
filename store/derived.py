"""Derived tables (weekly, daily, scores, cohort), one Parquet file each.

They are small next to the lake (rows per participant-week or -day), so each
is replaced whole and atomically; incremental runs compute only what changed
and merge it in before writing. The folder is a store location
(``store.objects``): a local folder, or a prefix on object storage, where a
table is one object sent whole (``store.atomic``).
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from config.conform import conform
from config.schema import WEEKLY
from store.atomic import is_local, write_with
from store.objects import filesystem_of

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
    """Folder of derived Parquet tables, on the local disk or on object storage."""

    def __init__(self, root: str | Path) -> None:
        self.location = str(root)
        self.fs, self.key = filesystem_of(root)
        self.fs.create_dir(self.key, recursive=True)
        self.root = Path(self.key)
        """The folder (local stores; on object storage the key prefix, for messages)."""

    @property
    def remote(self) -> bool:
        return not is_local(self.fs)

    def child(self, name: str) -> DerivedStore:
        """The store in the sub-folder ``name`` (derive's own state)."""
        return DerivedStore(f"{self.location.rstrip('/')}/{name}")

    def path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def _key(self, name: str) -> str:
        return f"{self.key}/{name}.parquet"

    def exists(self, name: str) -> bool:
        return bool(self.fs.get_file_info(self._key(name)).is_file)

    def tables(self) -> list[str]:
        """Names of the tables present, sorted."""
        sel = pafs.FileSelector(self.key, recursive=False, allow_not_found=True)
        return sorted(
            Path(i.path).stem
            for i in self.fs.get_file_info(sel)
            if i.is_file and i.path.endswith(".parquet")
        )

    def read(self, name: str) -> pl.DataFrame | None:
        """The table, None when it was never written; ``DerivedTableDamaged`` naming the file when it cannot be read."""
        key = self._key(name)
        try:
            if not self.remote:
                return pl.read_parquet(key) if self.exists(name) else None
            with self.fs.open_input_file(key) as handle:
                body = handle.read()
        except FileNotFoundError:
            return None
        except Exception as exc:  # polars raises ComputeError and others for damaged Parquet
            raise self._damaged(exc, name) from exc
        try:
            return pl.read_parquet(io.BytesIO(body))
        except Exception as exc:
            raise self._damaged(exc, name) from exc

    def shown(self, name: str) -> str:
        """The table's file as a person would name it (a path, or an ``s3://`` URL)."""
        return f"s3://{self._key(name)}" if self.remote else str(self.path(name))

    def _damaged(self, exc: Exception, name: str) -> DerivedTableDamaged:
        return DerivedTableDamaged(
            f"{self.shown(name)}: derived table cannot be read "
            f"({type(exc).__name__}: {exc}); "
            "it is rebuilt from the lake by the next nightly, or now by irisin repair"
        )

    def unreadable(self, names: tuple[str, ...] = DERIVED_TABLES) -> list[str]:
        """Tables of ``names`` that exist but whose Parquet footer cannot be read (cut, emptied,
        overwritten): cheap (the footer only), so a nightly with nothing new can afford it."""
        bad = []
        for name in names:
            p = self.path(name)
            if not p.exists():
                continue
            try:
                pq.read_metadata(p)
            except Exception:  # pyarrow raises ArrowInvalid, OSError and others for damaged bytes
                bad.append(name)
        return bad

    def read_rebuildable(self, name: str) -> pl.DataFrame | None:
        """The table, or None when it is absent or damaged: for a caller that rebuilds it from the lake."""
        try:
            return self.read(name)
        except DerivedTableDamaged:
            return None

    def set_aside(self, name: str, suffix: str) -> None:
        """Move a damaged table out of the way (to ``<name>.<suffix>``), kept for inspection."""
        self.fs.move(self._key(name), f"{self.key}/{name}.{suffix}")

    def write(self, name: str, frame: pl.DataFrame) -> Path:
        """Replace the table whole, atomically (``store.atomic``).

        A table with a canonical schema (``CANONICAL_DERIVED``) is conformed to
        it first, so a frame of the wrong shape is refused (``SchemaError``
        naming the column) before anything is written.
        """
        key = self._key(name)
        schema = CANONICAL_DERIVED.get(name)
        if schema is None:
            write_with(key, lambda out: frame.write_parquet(out, compression="zstd"), self.fs)
        else:
            table = conform(frame, schema)
            write_with(key, lambda out: pq.write_table(table, out, compression="zstd"), self.fs)
        return self.path(name)
