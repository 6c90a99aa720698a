"""Results computed over the whole lake, kept until the lake or the study's inputs change.

A run's summary needs answers that read every minute in the lake (each
participant's last heart-rate day, for the attention rules). A nightly with
nothing new would otherwise pay for a scan of the whole lake to say again
what the previous run said. Each answer is stored in
the derived ``state`` folder (beside derive's own records, not published to
the warehouse) with a key: a hash of the lake's committed batches, its
retirements and ``config_hash`` (study.toml and roster). The same key means
the same inputs, so the stored answer is the answer.

The key is cleared before a new answer is written and set after it, so a
crash in between leaves no valid key, and the next run computes again. Key
and answer live in the study's derived store, wherever it is (a folder, or a
bucket with ``[store] url``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import polars as pl

from config import Study
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
        self.store = DerivedStore(study.paths.derived_location).child(STATE_FOLDER)
        self.key = lake_key(study, lake)

    def _stored_key(self, name: str) -> str | None:
        keys = self.store.read_rebuildable(f"{name}_key")
        return None if keys is None or keys.height != 1 else str(keys.item(0, "key"))

    def _set_key(self, name: str, key: str) -> None:
        self.store.write(f"{name}_key", pl.DataFrame({"key": [key]}, schema={"key": pl.String()}))

    def get(self, name: str, compute: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """The stored ``name`` when its key is the lake's current one; otherwise ``compute()``, stored."""
        if self._stored_key(name) == self.key:
            stored = self.store.read_rebuildable(name)
            if stored is not None:
                return stored
        frame = compute()
        self._set_key(name, "")
        self.store.write(name, frame)
        self._set_key(name, self.key)
        return frame
