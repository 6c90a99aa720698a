"""Remembered file ids of raw files, so a nightly hashes only what changed.

A nightly would otherwise read and hash every file in every inbox to learn
that nothing is new, a cost that grows with the study's whole history. Like
git's index and rsync, a file whose path, size and modification time are as
last seen keeps its remembered SHA-256; anything else is hashed again. The
cache is only a shortcut: deleting it costs one full re-hash, never data.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from store.atomic import write_text


def file_id_of(data: bytes) -> str:
    """The identity of raw bytes: SHA-256, hex."""
    return hashlib.sha256(data).hexdigest()


class Fingerprints:
    """path -> (size, mtime_ns, file_id), persisted as JSON next to the lake."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._entries: dict[str, list[object]] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                self._entries = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                self._entries = {}  # a damaged cache is rebuilt, never trusted

    def file_id(self, file: Path) -> str:
        """The file's SHA-256, from the cache when its size and mtime are unchanged.

        Entries are keyed by the absolute path as listed (not resolved through
        symlinks): one ``stat`` per file and no other system call, since a
        nightly asks this for every file in the inbox.
        """
        key = os.path.abspath(file)
        st = os.stat(key)
        hit = self._entries.get(key)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return str(hit[2])
        from ingest.regular_files import read_regular  # regular files only: a FIFO is never opened

        fid = file_id_of(read_regular(Path(file)))
        self._entries[key] = [st.st_size, st.st_mtime_ns, fid]
        self._dirty = True
        return fid

    def learn(self, file: Path | str, file_id: str, seen: os.stat_result) -> bool:
        """Remember ``file_id`` of a file an ingest read elsewhere (a reader process), if unchanged since ``seen``.

        ``seen`` is the file's ``stat`` taken before it was read: a file
        changed since then, during or after the read, is not remembered (its
        next look hashes it). So a backfill's files are not hashed again by
        the first nightly after it. Returns whether it was remembered.
        """
        key = os.path.abspath(file)
        try:
            st = os.stat(key)
        except OSError:
            return False
        if (st.st_size, st.st_mtime_ns) != (seen.st_size, seen.st_mtime_ns):
            return False
        self._entries[key] = [st.st_size, st.st_mtime_ns, file_id]
        self._dirty = True
        return True

    def save(self) -> None:
        """Write the cache atomically (when it changed)."""
        if self.path is None or not self._dirty:
            return
        write_text(self.path, json.dumps(self._entries, separators=(",", ":")))
        self._dirty = False
