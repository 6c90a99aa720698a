"""The Garmin export bundle reader: route each member to its parser, quarantine what fails."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingest.contract import Member, ReadContext, ReadResult, must_propagate
from ingest.garmin.activities import read_summarized_activities
from ingest.garmin.daily_summaries import read_daily_summaries
from ingest.garmin.json_records import GarminFormatError
from ingest.garmin.layout import GarminKind, classify_member
from ingest.garmin.user_profile import read_user_profile

MemberParser = Callable[[bytes, str, ReadContext], ReadResult]

MAX_JSON_BYTES = 128 * 2**20
"""Largest Garmin JSON member read. Each is parsed whole (orjson, then Arrow): ``bench.garmin_json_memory``
measured the read adding about 40 MiB plus 1.3 times the member's size at peak (68 MiB of daily
summaries: +130 MiB), on top of the member's own bytes, so a member at this bound costs about
0.4 GB. Real members are a few MB (UDSFile_* hold ~100 days, summarizedActivities a few thousand
activities), 30x or more below it, so streaming (ijson) would trade the fast path's speed for
memory no real file needs. A larger member is held with the reason before it is loaded, so one odd
file cannot take a nightly's memory; it is tried again when a later reader version can stream it."""

PARSERS: dict[GarminKind, MemberParser] = {
    GarminKind.DAILY_SUMMARIES: read_daily_summaries,
    GarminKind.ACTIVITIES: read_summarized_activities,
    GarminKind.USER_PROFILE: read_user_profile,
}
"""Parser per member kind."""


def read_garmin_export(members: Sequence[Member], ctx: ReadContext) -> dict[str, ReadResult]:
    """Read every Garmin JSON member irisin knows; one ``ReadResult`` per recognised member path.

    Members are loaded one at a time. A member that cannot be read (not JSON,
    wrong shape, required field absent, unreadable bytes) is returned as
    ``quarantined`` with a reason naming the file and the problem, and the
    other members are still read. Of ``user_profile.json`` only the year of
    ``birthDate`` is kept (``ingest.garmin.user_profile``). FIT, TCX and GPX
    members are left to the pipeline and not returned.
    """
    results: dict[str, ReadResult] = {}
    for member in members:
        kind = classify_member(member.path)
        if kind is None:
            continue
        results[member.path] = _read_member(member, kind, PARSERS[kind], ctx)
    return results


def _read_member(
    member: Member, kind: GarminKind, parser: MemberParser, ctx: ReadContext
) -> ReadResult:
    if member.size > MAX_JSON_BYTES:
        return ReadResult(
            kind=kind.value,
            status="quarantined",
            reason=(
                f"{member.path}: {member.size / 2**20:,.0f} MiB, over the "
                f"{MAX_JSON_BYTES // 2**20} MiB a Garmin JSON file may be (each is read whole); "
                "held unread so the run's memory stays bounded: ask for a fresh export"
            ),
            notes={"size_bytes": member.size, "max_bytes": MAX_JSON_BYTES},
        )
    try:
        data = member.load()
    except Exception as exc:  # damaged archive member: zlib and zipfile errors alike
        if must_propagate(exc):
            raise  # transient (a locked file, storage briefly away): the flow retries it
        return ReadResult(
            kind=kind.value,
            status="quarantined",
            reason=f"{member.path}: bytes cannot be read ({type(exc).__name__}: {exc})",
        )
    try:
        return parser(data, member.path, ctx)
    except GarminFormatError as exc:
        return ReadResult(kind=kind.value, status="quarantined", reason=str(exc))
