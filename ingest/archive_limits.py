"""What an archive may cost before irisin refuses it: the limits, the member rules, the expansion budget.

``ArchiveLimits`` come from ``[ingest]`` in study.toml; ``Expansion`` counts
one outermost archive's expansion over all its nesting levels and refuses it
whole past a limit (``OverLimit``); ``CappedStream`` cuts off a member that
inflates past its declared size (``ExpansionRefused``). ``ingest.archive``
applies them while it walks a folder or zip; its docstring lists the rules.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from ingest.regular_files import special_kind

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class ArchiveLimits:
    """Refusal thresholds (from ``[ingest]`` in study.toml); see the module docstring."""

    max_members: int = 100_000
    max_depth: int = 3
    max_expansion_ratio: float = 200.0
    max_expanded_bytes: int = 20 * GiB
    max_member_ratio: float = 1_000.0
    min_free_disk_bytes: int = 1 * GiB
    ratio_floor_bytes: int = 64 * MiB


DEFAULT_LIMITS = ArchiveLimits()
"""The limits of a study that sets none."""


def archive_limits_of(ingest: object) -> ArchiveLimits:
    """The limits of a study's ``[ingest]`` section (``archive_*`` keys); defaults for keys it lacks."""
    defaults = ArchiveLimits()
    values = {
        name: getattr(ingest, f"archive_{name}", getattr(defaults, name))
        for name in ArchiveLimits.__dataclass_fields__
    }
    return ArchiveLimits(**values)


class UnreadableMember(zipfile.BadZipFile):
    """A member that cannot be decoded (damaged stream, unknown method, password); not a transient I/O error."""


class ExpansionRefused(zipfile.BadZipFile):
    """A member's bytes went past what the limits allow while streaming."""


class OverLimit(Exception):
    """The whole expansion of an outermost archive went over a limit: the archive is refused whole."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unsafe_reason(name: str) -> str | None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"absolute path {name!r} in archive: refused"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return f"member path {name!r} escapes the extraction folder: refused"
    return None


def is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def special_member(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)  # zero when the writer recorded permissions only
    if info.create_system == 3 and kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return special_kind(mode)
    return None


class Expansion:
    """The running total of one outermost archive's expansion, over all its nesting levels."""

    def __init__(self, outer_size: int, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.outer_size = max(outer_size, 1)
        by_ratio = max(int(limits.max_expansion_ratio * self.outer_size), limits.ratio_floor_bytes)
        self.cap = min(by_ratio, limits.max_expanded_bytes)
        self.declared = 0
        self.members = 0
        self.streamed = 0

    def describe_cap(self) -> str:
        return (
            f"the limit of {self.cap:,} bytes for this archive (the smaller of {self.limits.max_expansion_ratio:g}x "
            f"its {self.outer_size:,} bytes and {self.limits.max_expanded_bytes:,}; all nesting levels together)"
        )

    def admit(self, infos: list[zipfile.ZipInfo]) -> str | None:
        """Count one archive level's members and declared sizes; the refusal reason when that goes over."""
        members = self.members + len(infos)
        if members > self.limits.max_members:
            return (
                f"archive has {members:,} members (all nesting levels together), "
                f"more than the limit of {self.limits.max_members:,}: refused"
            )
        declared = self.declared + sum(i.file_size for i in infos)
        if declared > self.cap:
            return f"archive expands to {declared:,} bytes, over {self.describe_cap()}: refused"
        self.members, self.declared = members, declared
        return None

    def stream(self, n: int) -> None:
        """Count bytes as they are decompressed; raise once the whole expansion goes past the cap."""
        self.streamed += n
        if self.streamed > self.cap:
            raise ExpansionRefused(
                f"archive expanded past {self.describe_cap()} while reading: refused"
            )


def member_ratio_reason(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    """Why one member's own compression ratio marks it as a bomb, if it does."""
    if info.file_size <= limits.ratio_floor_bytes:
        return None
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > limits.max_member_ratio:
        return (
            f"member expands {ratio:,.0f}x ({info.compress_size:,} to {info.file_size:,} bytes), "
            f"over the per-member limit of {limits.max_member_ratio:g}x: refused"
        )
    return None


class CappedStream:
    """A zip member's decompressed stream that refuses to run past its declared size."""

    def __init__(self, raw: IO[bytes], info: zipfile.ZipInfo) -> None:
        self.raw, self.info, self.pos = raw, info, 0

    def read(self, size: int | None = -1) -> bytes:
        want = size if size is not None and size >= 0 else self.info.file_size + 1 - self.pos
        try:
            chunk = self.raw.read(want)
        except (zlib.error, NotImplementedError, RuntimeError, EOFError, zipfile.BadZipFile) as e:
            raise UnreadableMember(f"{self.info.filename}: cannot be decoded: {e}") from None
        self.pos += len(chunk)
        if self.pos > self.info.file_size:
            raise ExpansionRefused(
                f"{self.info.filename}: expands beyond its declared size {self.info.file_size:,}: refused"
            )
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = self.raw.seek(offset, whence)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return self.raw.seekable()

    def readable(self) -> bool:
        return True
