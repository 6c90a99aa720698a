"""The raw-file hash cache: unchanged files are not read again, changed ones are."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.fingerprints import Fingerprints, file_id_of


def test_cache_hit_miss_and_persistence(tmp_path: Path) -> None:
    f = tmp_path / "a.fit"
    f.write_bytes(b"first")
    cache = Fingerprints(tmp_path / "fp.json")
    assert cache.file_id(f) == file_id_of(b"first")
    cache.save()

    # same size and mtime: the remembered id is used without reading the file
    again = Fingerprints(tmp_path / "fp.json")
    st = f.stat()
    f.write_bytes(b"FIRST")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert again.file_id(f) == file_id_of(b"first")

    # a new mtime (or size) is hashed again
    f.write_bytes(b"second!")
    assert again.file_id(f) == file_id_of(b"second!")


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "fp.json").write_text("{not json")
    f = tmp_path / "b"
    f.write_bytes(b"x")
    assert Fingerprints(tmp_path / "fp.json").file_id(f) == file_id_of(b"x")


def test_an_id_learned_from_a_read_elsewhere_counts_only_if_the_file_is_unchanged(
    tmp_path: Path,
) -> None:
    kept, changed = tmp_path / "kept.fit", tmp_path / "changed.fit"
    for f in (kept, changed):
        f.write_bytes(b"as read")
    seen = {f: os.stat(f) for f in (kept, changed)}
    changed.write_bytes(b"rewritten after it was read")
    cache = Fingerprints(tmp_path / "fp.json")
    assert cache.learn(kept, file_id_of(b"as read"), seen[kept])
    assert not cache.learn(changed, file_id_of(b"as read"), seen[changed])
    assert not cache.learn(tmp_path / "gone.fit", file_id_of(b"x"), seen[kept])
    cache.save()
    again = Fingerprints(tmp_path / "fp.json")
    kept.write_bytes(b"AS READ")  # same size and mtime: the learned id is used unread
    os.utime(kept, ns=(seen[kept].st_atime_ns, seen[kept].st_mtime_ns))
    assert again.file_id(kept) == file_id_of(b"as read")
    assert again.file_id(changed) == file_id_of(b"rewritten after it was read")
