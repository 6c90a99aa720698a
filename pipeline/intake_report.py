"""What happened to each export of an ingest, in words a coordinator can act on.

Per participant and export (the file or folder handed over), files read by
kind, skipped by reason (grouped, with a count and one example path) and
quarantined with their reason; and the participants none of whose new files
could be read, with the folder and the main reason, for a closing warning.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.pipeline import LEFT_OUT, FileOutcome, IngestReport
from store.lake import Lake

READ = ("ok", "partial")
MAX_EXPORTS = 40
"""Exports a run's per-export section names; the rest are summed on one line."""
MAX_REASONS = 5
"""Skip (or quarantine) reasons an export's lines name per status, most files first; the rest are summed."""
EVERY_FILE = "irisin export files lists every file"


def reason_group(reason: str) -> str:
    """The reason a file is grouped under: one that names another file is grouped without the name.

    "same bytes as <path>" would otherwise make one group (and one line) per file.
    """
    if reason.startswith("same bytes as "):
        return "same bytes as a file read before it"
    return reason


@dataclass(frozen=True)
class FileCounts:
    """What a run looked at, counted one way for the demo, ``ingest``, the nightly and the backfill.

    ``on_disk``: regular files on disk (each file of an export folder, an
    archive once); ``members``: files inside archives (nested archives and
    their members included), counted apart. ``new_*``: those read this run.
    """

    on_disk: int
    new_on_disk: int
    members: int
    new_members: int

    def line(self) -> str:
        """One sentence saying what was counted, e.g. ``372 files on disk (372 new), 238 archive members (238 new)``."""
        return (
            f"{self.on_disk} files on disk ({self.new_on_disk} new), "
            f"{self.members} archive members ({self.new_members} new)"
        )


def file_counts(outcomes: list[FileOutcome], known_members: int = 0) -> FileCounts:
    """Files on disk and archive members among ``outcomes``; an outcome inside an archive is named ``archive!/member``.

    ``known_members``: members of archives found already known, which a run
    counts from the manifest instead of listing (``IngestReport.known_members``).
    """
    disk = [o for o in outcomes if "!/" not in o.path]
    members = [o for o in outcomes if "!/" in o.path]
    return FileCounts(
        on_disk=len(disk),
        new_on_disk=sum(o.new for o in disk),
        members=len(members) + known_members,
        new_members=sum(o.new for o in members),
    )


def archive_members_on_disk(files: list[Path]) -> int:
    """Members of the zip archives among ``files``, nested archives and their members included.

    Counted as a run counts them (every file inside, folders not), so the demo
    can say beforehand what the nightly and the backfill will count.
    """
    total = 0
    for path in files:
        with path.open("rb") as head:
            if head.read(4) != b"PK\x03\x04":
                continue
        with zipfile.ZipFile(path) as zf:
            total += _members_of(zf)
    return total


def _members_of(zf: zipfile.ZipFile) -> int:
    count = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        count += 1
        with zf.open(info) as member:
            if member.read(4) != b"PK\x03\x04":
                continue
        with zipfile.ZipFile(io.BytesIO(zf.read(info))) as inner:
            count += _members_of(inner)
    return count


def known_archive_members(
    known: list[FileOutcome], lake: Lake, file_id: Callable[[Path], str]
) -> int:
    """Members the manifest records for the known files of ``known`` that are archives.

    A run does not open an archive it already holds, so it counts the
    archive's members from the manifest: a re-run counts what the first
    run counted. ``file_id`` gives a file's id (the study's hash cache).
    """
    if not lake.holds_archives():  # a study of loose files: no need to look each one up
        return 0
    return sum(
        lake.archive_members(file_id(Path(o.path)))
        for o in known
        if not o.new and "!/" not in o.path
    )


def export_of(path: str, inputs: list[str]) -> str:
    """The input (file or folder handed over) an outcome's path belongs to."""
    for root in sorted(inputs, key=len, reverse=True):
        if path == root or path.startswith((f"{root}/", f"{root}!/")):
            return root
    outer = path.split("!/", 1)[0]
    parts = outer.split("/")
    if "inbox" in parts:  # an inbox path: the export is the entry right under inbox/<participant>/
        k = len(parts) - 1 - parts[::-1].index("inbox")
        return "/".join(parts[: k + 3])
    return outer


@dataclass(frozen=True)
class Unreadable:
    """A participant with new files of which none could be read."""

    participant_id: str
    folder: str
    reason: str
    files: int


def export_lines(report: IngestReport, inputs: list[str]) -> list[str]:
    """Lines per participant and export: read by kind, skipped by reason, quarantined with reason."""
    groups: dict[tuple[str, str], list[FileOutcome]] = defaultdict(list)
    for o in report.outcomes:
        if o.new and o.kind != "zip":
            groups[(o.participant_id, export_of(o.path, inputs))].append(o)
    lines: list[str] = []
    ordered = sorted(groups.items())
    for (pid, export), outs in ordered[:MAX_EXPORTS]:
        read = Counter(o.kind for o in outs if o.status in READ)
        lines.append(f"{pid} {export}: {sum(read.values())} of {len(outs)} new file(s) read")
        lines += [f"    read {n:6d}  {kind}" for kind, n in sorted(read.items())]
        for status in ("skipped", "quarantined"):
            by_reason: dict[str, list[FileOutcome]] = defaultdict(list)
            for o in outs:
                if o.status == status:
                    by_reason[reason_group(o.reason or "no reason given")].append(o)
            ranked = sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
            for reason, same in ranked[:MAX_REASONS]:
                lines.append(f"    {status} {len(same):3d}  {reason} (e.g. {same[0].path})")
            if len(ranked) > MAX_REASONS:
                rest = sum(len(same) for _, same in ranked[MAX_REASONS:])
                lines.append(
                    f"    {status} ... and {len(ranked) - MAX_REASONS} more reason(s), "
                    f"{rest} file(s) ({EVERY_FILE})"
                )
        for key, words in LEFT_OUT.items():
            having = [o for o in outs if o.left_out.get(key)]
            if having:
                total = sum(o.left_out[key] for o in having)
                lines.append(
                    f"    left out {total:,} {words}, in {len(having)} file(s) "
                    f"(e.g. {having[0].path}; the file's notes list examples)"
                )
    if len(ordered) > MAX_EXPORTS:
        left = [o for _, outs in ordered[MAX_EXPORTS:] for o in outs]
        read_left = sum(o.status in READ for o in left)
        lines.append(
            f"... and {len(ordered) - MAX_EXPORTS} more export(s): {read_left} of "
            f"{len(left)} new file(s) read ({EVERY_FILE})"
        )
    return lines


def unreadable(report: IngestReport, inputs: list[str]) -> list[Unreadable]:
    """Participants whose new files were all skipped, quarantined or failed, with the most common reason."""
    by_pid: dict[str, list[FileOutcome]] = defaultdict(list)
    for o in report.outcomes:
        if o.new and o.kind != "zip":
            by_pid[o.participant_id].append(o)
    found: list[Unreadable] = []
    for pid, outs in sorted(by_pid.items()):
        if any(o.status in READ for o in outs):
            continue
        reason, _ = Counter(o.reason or o.status for o in outs).most_common(1)[0]
        folder, _ = Counter(export_of(o.path, inputs) for o in outs).most_common(1)[0]
        found.append(Unreadable(pid, folder, reason, len(outs)))
    return found
