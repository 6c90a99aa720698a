"""Results computed over the whole lake, kept until the lake or the study's inputs change.

A run's summary needs answers that read every minute in the lake (each
participant's last heart-rate day, for the attention rules). A nightly with
nothing new would otherwise pay for a scan of the whole lake to say again
what the previous run said. Each answer is stored in
the derived ``state`` folder (beside derive's own records, not published to
the warehouse) with a key: a hash of the lake's committed batches, its
retirements and ``config_hash`` (study.toml and roster). The same key means
the same inputs, so the stored answer is the answer.

The key file is removed before a new answer is written and written after it,
so a crash in between leaves no key, and the next run computes again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import polars as pl

from config import Study
from store.atomic import write_text
from store.derived import DerivedStore
from store.lake import Lake

STATE_FOLDER = "state"


def lake_key(study: Study, lake: Lake) -> str:
    """A hash of what a whole-lake answer depends on: committed batches, retirements, ``config_hash``."""
    h = hashlib.sha256(study.inputs_hash().encode())
    for pid, bid in sorted(lake.committed_batches()):
        h.update(f"{pid}/{bid}\n".encode())
    retired = lake.retirements()
    if retired.height:
        h.update(retired.sort(retired.columns).write_csv().encode())
    return h.hexdigest()[:32]


class LakeCache:
    """Answers over the lake of one study, each kept under ``lake_key`` (see the module docstring)."""

    def __init__(self, study: Study, lake: Lake) -> None:
        self.store = DerivedStore(study.paths.derived / STATE_FOLDER)
        self.key = lake_key(study, lake)

    def _key_path(self, name: str) -> Path:
        return self.store.root / f"{name}.key"

    def get(self, name: str, compute: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """The stored ``name`` when its key is the lake's current one; otherwise ``compute()``, stored."""
        key_path = self._key_path(name)
        if key_path.is_file() and key_path.read_text(encoding="utf-8") == self.key:
            stored = self.store.read_rebuildable(name)
            if stored is not None:
                return stored
        frame = compute()
        key_path.unlink(missing_ok=True)
        self.store.write(name, frame)
        write_text(key_path, self.key)
        return frame
