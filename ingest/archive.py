"""Open a folder or a zip (with zips inside) as a flat list of members, safely.

Every archive irisin opens goes through here, so the refusal rules hold for
all readers: no member whose path is absolute or escapes the extraction
folder, no symlinks, no nesting deeper than ``max_depth``, no archive with
more than ``max_members`` members or expanding beyond
``min(max_expansion_ratio x its size, max_expanded_bytes)``. A refused member
is reported with its reason; the rest of the archive is still read. Members
are read lazily from the archive (nothing is extracted to disk); only nested
zips are held in memory, within those limits.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ingest.contract import Member

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"


@dataclass(frozen=True)
class ArchiveLimits:
    """Refusal thresholds (from ``[ingest]`` in study.toml)."""

    max_members: int = 100_000
    max_depth: int = 3
    max_expansion_ratio: float = 20.0
    max_expanded_bytes: int = 20 * 1024**3


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


def is_zip_bytes(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC)


def is_zip_file(path: Path) -> bool:
    with open(path, "rb") as f:
        return is_zip_bytes(f.read(4))


def _unsafe_reason(name: str) -> str | None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"absolute path {name!r} in archive: refused"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return f"member path {name!r} escapes the extraction folder: refused"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _bounded_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read a member, refusing one that inflates beyond its declared size."""
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise zipfile.BadZipFile(f"{info.filename}: expands beyond its declared size {info.file_size}")
    return data


def _walk_zip(
    zf: zipfile.ZipFile,
    prefix: str,
    depth: int,
    archive_size: int,
    limits: ArchiveLimits,
    bundle: Bundle,
    stack: ExitStack,
) -> None:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    where = prefix.removesuffix("!/") or bundle.root
    if len(infos) > limits.max_members:
        bundle.refusals.append(
            Refusal(where, archive_size, f"archive has {len(infos):,} members, more than the limit of {limits.max_members:,}: refused")
        )
        return
    budget = min(int(limits.max_expansion_ratio * max(archive_size, 1)), limits.max_expanded_bytes)
    expanded = sum(i.file_size for i in infos)
    if expanded > budget:
        bundle.refusals.append(
            Refusal(
                where,
                archive_size,
                f"archive expands to {expanded:,} bytes, over the limit of {budget:,} "
                f"(min of {limits.max_expansion_ratio:g}x its size and {limits.max_expanded_bytes:,}): refused",
            )
        )
        return
    for info in infos:
        name = prefix + info.filename
        reason = _unsafe_reason(info.filename)
        if reason is None and _is_symlink(info):
            reason = f"symlink {info.filename!r} in archive: refused"
        if reason is not None:
            bundle.refusals.append(Refusal(name, info.file_size, reason))
            continue

        def load(info: zipfile.ZipInfo = info) -> bytes:
            return _bounded_reader(zf, info)

        if info.filename.lower().endswith(".zip"):
            if depth + 1 > limits.max_depth:
                bundle.refusals.append(
                    Refusal(name, info.file_size, f"zip nested deeper than {limits.max_depth} levels: refused", load)
                )
                continue
            try:
                data = load()
                inner = stack.enter_context(zipfile.ZipFile(io.BytesIO(data)))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
                bundle.refusals.append(Refusal(name, info.file_size, f"corrupt zip archive: {e}", load))
                continue
            bundle.containers.append(Member(name, info.file_size, lambda data=data: data))
            _walk_zip(inner, name + "!/", depth + 1, len(data), limits, bundle, stack)
            continue
        bundle.members.append(Member(name, info.file_size, load))


def _walk_folder(root: Path, limits: ArchiveLimits, bundle: Bundle, stack: ExitStack) -> None:
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                rel = (here / d).relative_to(root).as_posix()
                bundle.refusals.append(Refusal(rel, 0, f"symlink {rel!r} in folder: refused"))
                dirnames.remove(d)
        dirnames.sort()
        for fname in sorted(filenames):
            full = here / fname
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                bundle.refusals.append(Refusal(rel, 0, f"symlink {rel!r} in folder: refused"))
                continue
            count += 1
            size = full.stat().st_size

            def load(full: Path = full) -> bytes:
                return full.read_bytes()

            if fname.lower().endswith(".zip") or (size >= 4 and is_zip_file(full)):
                try:
                    zf = stack.enter_context(zipfile.ZipFile(full))
                except (zipfile.BadZipFile, OSError) as e:
                    bundle.refusals.append(Refusal(rel, size, f"corrupt zip archive: {e}", load))
                    continue
                bundle.containers.append(Member(rel, size, load))
                _walk_zip(zf, rel + "!/", 1, size, limits, bundle, stack)
            else:
                bundle.members.append(Member(rel, size, load))
    if count > limits.max_members:
        bundle.refusals.append(Refusal(".", 0, f"folder has {count:,} files, more than the limit of {limits.max_members:,}"))


@contextmanager
def open_bundle(path: Path, limits: ArchiveLimits = ArchiveLimits()) -> Iterator[Bundle]:
    """Members of a folder or zip; they can be loaded until the block ends.

    Raises ``zipfile.BadZipFile`` only when ``path`` itself is a corrupt zip
    (the caller quarantines it); every problem inside is a ``Refusal``.
    """
    path = Path(path)
    bundle = Bundle(root=path.name)
    with ExitStack() as stack:
        if path.is_dir():
            _walk_folder(path, limits, bundle, stack)
        else:
            zf = stack.enter_context(zipfile.ZipFile(path))
            _walk_zip(zf, "", 1, path.stat().st_size, limits, bundle, stack)
        yield bundle
