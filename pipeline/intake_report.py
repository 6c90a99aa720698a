"""What happened to each export of an ingest, in words a coordinator can act on.

Per participant and export (the file or folder handed over), files read by
kind, skipped by reason (grouped, with a count and one example path) and
quarantined with their reason; and the participants none of whose new files
could be read, with the folder and the main reason, for a closing warning.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from ingest.pipeline import LEFT_OUT, FileOutcome, IngestReport

READ = ("ok", "partial")


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


def file_counts(outcomes: list[FileOutcome]) -> FileCounts:
    """Files on disk and archive members among ``outcomes``; an outcome inside an archive is named ``archive!/member``."""
    disk = [o for o in outcomes if "!/" not in o.path]
    members = [o for o in outcomes if "!/" in o.path]
    return FileCounts(
        on_disk=len(disk),
        new_on_disk=sum(o.new for o in disk),
        members=len(members),
        new_members=sum(o.new for o in members),
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
    for (pid, export), outs in sorted(groups.items()):
        read = Counter(o.kind for o in outs if o.status in READ)
        lines.append(f"{pid} {export}: {sum(read.values())} of {len(outs)} new file(s) read")
        lines += [f"    read {n:6d}  {kind}" for kind, n in sorted(read.items())]
        for status in ("skipped", "quarantined"):
            by_reason: dict[str, list[FileOutcome]] = defaultdict(list)
            for o in outs:
                if o.status == status:
                    by_reason[o.reason or "no reason given"].append(o)
            for reason, same in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
                lines.append(f"    {status} {len(same):3d}  {reason} (e.g. {same[0].path})")
        for key, words in LEFT_OUT.items():
            having = [o for o in outs if o.left_out.get(key)]
            if having:
                total = sum(o.left_out[key] for o in having)
                lines.append(
                    f"    left out {total:,} {words}, in {len(having)} file(s) "
                    f"(e.g. {having[0].path}; the file's notes list examples)"
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
