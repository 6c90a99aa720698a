"""Open a folder or a zip (with zips inside) as a flat list of members, safely.

Every archive irisin opens goes through here, so the refusal rules hold for
all readers. Refused, each with its reason while the rest is still read:

* members whose path is absolute or escapes the extraction folder, symlinks,
  special files (FIFOs, devices, sockets), and in folders anything reached
  through a symlink;
* encrypted members, members in a compression method irisin cannot read,
  several different members under one name;
* zips nested deeper than ``max_depth``;
* an expansion beyond the limits, counted over the whole expansion of an
  outermost archive, every nesting level together: more than
  ``max_members`` members, more than ``max_expanded_bytes``, more than
  ``max_expansion_ratio`` times the outermost archive's size, one member
  more than ``max_member_ratio`` times its compressed size, or a nested zip
  whose copy would leave less than ``min_free_disk_bytes`` on the disk.

Limits are checked from the declared sizes before a level is read and again
while bytes stream out (a member inflating past its declared size is cut
off), so a bomb is refused before it costs memory or disk. The ratio limits
start above ``ratio_floor_bytes`` of expansion: a small file of zeros is not
a bomb. Real exports stay far below them (a Fitbit archive packed with
``zip -9`` expands about 22 times; Deflate cannot exceed about 1,032 times per
member, so nested bombs are what the whole-expansion limit is for).

Members are read lazily, one at a time (nothing is extracted). A nested zip
is streamed into a temporary file, never held in memory, and read from there.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ingest.archive_limits import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    CappedStream,
    Expansion,
    ExpansionRefused,
    MiB,
    OverLimit,
    UnreadableMember,
    is_symlink,
    member_ratio_reason,
    special_member,
    unsafe_reason,
)
from ingest.contract import Member
from ingest.regular_files import SpecialFileError, open_regular, read_regular, special_kind

try:  # Deflate64 (method 9): what Windows' "compressed folder" writes for large archives
    import zipfile_deflate64  # noqa: F401  (registers method 9 with zipfile)

    DEFLATE64_READABLE = True
except ImportError:  # pragma: no cover - the package is a declared dependency
    DEFLATE64_READABLE = False

READER_VERSION = 1
"""Version of this module's rules, recorded in the manifest of every file they decide; bump it (by
one) with a change that lets a file they refused or skipped through (see ``ingest.versions``)."""

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
ZIP_DEFLATE64 = 9
CHUNK = 1 << 20
ENCRYPTED_REASON = "encrypted: ask the participant for an unencrypted export"
QUARANTINE_COPY_MAX = 256 * MiB
"""Refused members up to this size are copied to the quarantine; larger ones are only named."""


def readable_methods() -> dict[int, str]:
    """Compression methods irisin reads, by zip method number."""
    methods = {
        zipfile.ZIP_STORED: "stored",
        zipfile.ZIP_DEFLATED: "deflate",
        zipfile.ZIP_BZIP2: "bzip2",
        zipfile.ZIP_LZMA: "lzma",
    }
    if DEFLATE64_READABLE:
        methods[ZIP_DEFLATE64] = "deflate64"
    return methods


@dataclass(frozen=True)
class Refusal:
    """A member irisin will not read, with the reason shown in the manifest."""

    path: str
    size: int
    reason: str
    load: object = None
    """Callable returning the member's bytes, where they can be read safely (for quarantine)."""


@dataclass
class Bundle:
    """The members of a folder or archive, open for lazy reading."""

    root: str
    members: list[Member] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    containers: list[Member] = field(default_factory=list)
    """Nested archives (their own manifest rows), as members."""
    container_ids: dict[str, str] = field(default_factory=dict)
    """Container path -> SHA-256 of its bytes, computed while it was copied out (no second read)."""


def is_zip_bytes(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC)


def is_zip_file(path: Path) -> bool:
    with open_regular(path) as f:
        return is_zip_bytes(f.read(4))


def _copy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Expansion | None, out: IO[bytes]
) -> str:
    """Stream one member into ``out``, enforcing its declared size and the whole-expansion cap; its SHA-256."""
    digest = hashlib.sha256()
    written = 0
    try:
        with zf.open(info) as f:
            while chunk := f.read(min(CHUNK, info.file_size + 1 - written)):
                written += len(chunk)
                if written > info.file_size:
                    raise ExpansionRefused(
                        f"{info.filename}: expands beyond its declared size {info.file_size:,}: refused"
                    )
                if budget is not None:
                    budget.stream(len(chunk))
                digest.update(chunk)
                out.write(chunk)
                if written == info.file_size:
                    # reading once more lets zipfile check the CRC at the end of the stream
                    if f.read(1):
                        raise ExpansionRefused(
                            f"{info.filename}: expands beyond its declared size {info.file_size:,}: refused"
                        )
                    break
    except (zlib.error, NotImplementedError, RuntimeError, EOFError, ValueError) as e:
        raise UnreadableMember(f"{info.filename}: cannot be decoded: {e}") from None
    return digest.hexdigest()


def _reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Expansion) -> Callable[[], bytes]:
    """A member's ``load``: its bytes, streamed within the limits. The first read counts against the cap."""
    counted = [False]

    def load() -> bytes:
        sink = io.BytesIO()
        _copy_member(zf, info, None if counted[0] else budget, sink)
        counted[0] = True
        return sink.getvalue()

    return load


def _streamer(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo
) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    """A member's ``stream``: its decompressed bytes as a stream capped at the declared size.

    The expansion budget of the whole archive is checked on the declared
    sizes when the archive is listed; ``load`` also counts streamed bytes.
    """

    @contextmanager
    def stream() -> Iterator[IO[bytes]]:
        with zf.open(info) as raw:
            yield CappedStream(raw, info)  # type: ignore[misc]

    return stream


def _refusal_load(load: Callable[[], bytes], size: int) -> Callable[[], bytes] | None:
    return load if size <= QUARANTINE_COPY_MAX else None


class _Walk:
    """One ``open_bundle`` call: the bundle being filled, the open archives and the temporary folder."""

    def __init__(
        self, bundle: Bundle, limits: ArchiveLimits, stack: ExitStack, spill_dir: Path | None
    ) -> None:
        self.bundle = bundle
        self.limits = limits
        self.stack = stack
        self._spill_root = spill_dir
        self._spill: Path | None = None

    def spill_folder(self) -> Path:
        if self._spill is None:
            root = self._spill_root
            if root is not None:
                root.mkdir(parents=True, exist_ok=True)
            self._spill = Path(
                self.stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="irisin-zip-", dir=root)
                )
            )
        return self._spill

    def refuse(
        self, path: str, size: int, reason: str, load: Callable[[], bytes] | None = None
    ) -> None:
        self.bundle.refusals.append(Refusal(path, size, reason, load))

    # -- zips -------------------------------------------------------------
    def zip(self, zf: zipfile.ZipFile, prefix: str, depth: int, budget: Expansion) -> None:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        reason = budget.admit(infos)
        if reason is not None:
            raise OverLimit(reason)
        names: dict[str, list[zipfile.ZipInfo]] = {}
        for info in infos:
            names.setdefault(info.filename, []).append(info)
        for info in infos:
            copies = names[info.filename]
            path = prefix + info.filename
            if len(copies) > 1:
                path = _copy_path(path, copies.index(info) + 1, len(copies))
            reason = self._member_reason(info, copies)
            load = _reader(zf, info, budget)
            if reason is not None:
                plain = not (is_symlink(info) or special_member(info) or info.flag_bits & 0x1)
                self.refuse(
                    path,
                    info.file_size,
                    reason,
                    _refusal_load(load, info.file_size) if plain else None,
                )
                continue
            stream = _streamer(zf, info)
            if copies.index(info) > 0:
                # an identical copy: listed under its own name; the pipeline records it as the same bytes as the first
                self.bundle.members.append(Member(path, info.file_size, load, stream))
                continue
            if info.filename.lower().endswith(".zip"):
                self.nested(zf, info, path, depth, budget, load)
                continue
            self.bundle.members.append(Member(path, info.file_size, load, stream))

    def _member_reason(self, info: zipfile.ZipInfo, copies: list[zipfile.ZipInfo]) -> str | None:
        reason = unsafe_reason(info.filename)
        if reason is not None:
            return reason
        if is_symlink(info):
            return f"symlink {info.filename!r} in archive: refused"
        special = special_member(info)
        if special is not None:
            return f"{special} {info.filename!r} in archive: refused"
        if info.flag_bits & 0x1:
            return ENCRYPTED_REASON
        methods = readable_methods()
        if info.compress_type not in methods:
            return f"compression method {info.compress_type} is not one irisin reads ({', '.join(methods.values())})"
        if len({(c.CRC, c.file_size) for c in copies}) > 1:
            return (
                f"the archive holds {len(copies)} different members named {info.filename!r}; which one is current "
                "cannot be told, so none is read: ask the participant for a fresh export"
            )
        return member_ratio_reason(info, self.limits)

    def nested(
        self,
        zf: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        path: str,
        depth: int,
        budget: Expansion,
        load: Callable[[], bytes],
    ) -> None:
        """A zip inside a zip: streamed to a temporary file within the limits, then walked from there."""
        if depth + 1 > self.limits.max_depth:
            self.refuse(
                path,
                info.file_size,
                f"zip nested deeper than {self.limits.max_depth} levels: refused",
                _refusal_load(load, info.file_size),
            )
            return
        folder = self.spill_folder()
        free = shutil.disk_usage(folder).free
        if free - info.file_size < self.limits.min_free_disk_bytes:
            self.refuse(
                path,
                info.file_size,
                f"copying this {info.file_size:,}-byte nested zip would leave {max(free - info.file_size, 0):,} bytes "
                f"free on {folder.parent}, less than the limit of {self.limits.min_free_disk_bytes:,}: refused",
            )
            return
        spilled = folder / f"{len(self.bundle.containers)}.zip"
        try:
            with open(spilled, "wb") as out:
                digest = _copy_member(zf, info, budget, out)
            inner = self.stack.enter_context(zipfile.ZipFile(spilled))
        except ExpansionRefused as e:
            spilled.unlink(missing_ok=True)
            if budget.streamed > budget.cap:
                raise OverLimit(str(e)) from None
            self.refuse(path, info.file_size, str(e))
            return
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            self.refuse(
                path,
                info.file_size,
                f"corrupt zip archive: {e}",
                _refusal_load(load, info.file_size),
            )
            return
        self.bundle.containers.append(Member(path, info.file_size, spilled.read_bytes))
        self.bundle.container_ids[path] = digest
        self.zip(inner, path + "!/", depth + 1, budget)

    # -- folders ----------------------------------------------------------
    def folder(self, root: Path) -> None:
        """Every regular file below ``root``, without following any symlink; zips in it are walked as archives."""
        count = 0
        stack = [root]
        while stack:
            here = stack.pop()
            try:
                with os.scandir(here) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as e:
                rel = here.relative_to(root).as_posix()
                self.refuse(rel, 0, f"folder {rel!r} cannot be listed: {e.strerror or e}")
                continue
            subfolders = []
            for entry in entries:
                full = here / entry.name
                rel = full.relative_to(root).as_posix()
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError as e:
                    self.refuse(rel, 0, f"{rel!r} cannot be examined: {e.strerror or e}")
                    continue
                if stat.S_ISDIR(mode):
                    subfolders.append(full)
                    continue
                if not stat.S_ISREG(mode):
                    self.refuse(rel, 0, f"{special_kind(mode)} {rel!r} in folder: refused")
                    continue
                count += 1
                if count > self.limits.max_members:
                    continue
                self.folder_file(full, rel, entry.stat(follow_symlinks=False).st_size)
            stack += reversed(subfolders)
        if count > self.limits.max_members:
            self.bundle.members.clear()
            self.bundle.containers.clear()
            self.refuse(
                ".",
                0,
                f"folder has {count:,} files, more than the limit of {self.limits.max_members:,}: refused",
            )

    def folder_file(self, full: Path, rel: str, size: int) -> None:
        def load(full: Path = full) -> bytes:
            return read_regular(full)

        try:
            is_zip = full.name.lower().endswith(".zip") or (size >= 4 and is_zip_file(full))
        except SpecialFileError as e:
            self.refuse(rel, 0, str(e).replace(str(full), repr(rel)))
            return
        if not is_zip:

            def stream(full: Path = full) -> IO[bytes]:
                return open_regular(full)

            self.bundle.members.append(Member(rel, size, load, stream))
            return
        try:
            handle = self.stack.enter_context(open_regular(full))
            zf = self.stack.enter_context(zipfile.ZipFile(handle))
        except SpecialFileError as e:
            self.refuse(rel, 0, str(e).replace(str(full), repr(rel)))
            return
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
            self.refuse(rel, size, f"corrupt zip archive: {e}", _refusal_load(load, size))
            return
        self.outermost(zf, rel, size, load)

    def outermost(
        self, zf: zipfile.ZipFile, rel: str, size: int, load: Callable[[], bytes] | None = None
    ) -> None:
        """Walk an outermost archive; when its whole expansion goes over a limit, it is refused as one.

        ``rel`` is its path in a folder, or ``""`` for the archive being
        opened itself (a refusal with path ``""`` refuses that whole archive).
        """
        b = self.bundle
        marks = len(b.members), len(b.refusals), len(b.containers)
        if rel:
            b.containers.append(Member(rel, size, load or (lambda: b"")))
        try:
            self.zip(zf, f"{rel}!/" if rel else "", 1, Expansion(size, self.limits))
        except OverLimit as e:
            del b.members[marks[0] :], b.refusals[marks[1] :], b.containers[marks[2] :]
            kept = {c.path for c in b.containers}
            b.container_ids = {k: v for k, v in b.container_ids.items() if k in kept}
            self.refuse(rel, size, e.reason, _refusal_load(load, size) if load else None)


def _copy_path(path: str, k: int, n: int) -> str:
    """The manifest path of copy ``k`` of ``n`` members with one name (copy 1 keeps the name)."""
    return path if k == 1 else f"{path} (copy {k} of {n})"


@contextmanager
def open_bundle(
    path: Path, limits: ArchiveLimits = DEFAULT_LIMITS, *, spill_dir: Path | None = None
) -> Iterator[Bundle]:
    """Members of a folder or zip; they can be loaded until the block ends.

    Raises ``zipfile.BadZipFile`` only when ``path`` itself is a corrupt zip
    (the caller quarantines it); every problem inside is a ``Refusal``.
    Nested zips are copied into a temporary folder under ``spill_dir`` (the
    system's by default), removed when the block ends.
    """
    path = Path(path)
    bundle = Bundle(root=path.name)
    with ExitStack() as stack:
        walk = _Walk(bundle, limits, stack, spill_dir)
        if path.is_dir():
            walk.folder(path)
        else:
            handle = stack.enter_context(open_regular(path, follow_symlinks=True))
            size = os.fstat(handle.fileno()).st_size
            zf = stack.enter_context(zipfile.ZipFile(handle))
            walk.outermost(zf, "", size)
        yield bundle
