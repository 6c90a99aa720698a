"""Stream an Apple Health ``export.xml`` into plain columns, one bounded chunk at a time.

The export is one flat ``<HealthData>`` element holding millions of
``<Record>`` elements, then ``<Workout>`` elements, in any order. It is read
with ``lxml`` ``iterparse`` over the ``end`` events of ``Record``, ``Workout``
and ``Me`` only; each element is read for the few attributes irisin uses and
then cleared and detached with the siblings before it, so the tree never holds
more than the elements since the last one read. Records nested in a
``Correlation`` (blood pressure, food) are not samples of their own and are
skipped. What survives are the raw attribute strings of the wanted records, in
chunks of ``CHUNK_RECORDS``, handed to a callback that reduces them to minutes
(``ingest.apple.minutes``).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import polars as pl
from lxml import etree

from ingest.xml_safety import PROLOG_LIMIT_BYTES, XML_ERRORS, refuse_entities, safe_iterparse

STEPS, HEART_RATE, RESTING_HEART_RATE, EXERCISE = 0, 1, 2, 3
RECORD_TYPES: dict[str, int] = {
    "HKQuantityTypeIdentifierStepCount": STEPS,
    "HKQuantityTypeIdentifierHeartRate": HEART_RATE,
    "HKQuantityTypeIdentifierRestingHeartRate": RESTING_HEART_RATE,
    "HKQuantityTypeIdentifierAppleExerciseTime": EXERCISE,
}
"""The record types irisin reads, to the small code that travels in a chunk."""

CHUNK_RECORDS = 65_536
"""Records per chunk handed on: bounds the raw strings held at once (about 35 MB)."""

HEART_RATE_STATISTIC = "HKQuantityTypeIdentifierHeartRate"
ROOT_TAG = "HealthData"


@dataclass
class RecordChunk:
    """Raw attribute strings of wanted records, column by column."""

    kind: list[int] = field(default_factory=list)
    start: list[str | None] = field(default_factory=list)
    end: list[str | None] = field(default_factory=list)
    value: list[str | None] = field(default_factory=list)
    device: list[str | None] = field(default_factory=list)
    source_name: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.kind)

    def to_frame(self) -> pl.DataFrame:
        """The chunk as a frame of raw strings (entities already decoded by the parser)."""
        return pl.DataFrame(
            {
                "kind": pl.Series(self.kind, dtype=pl.UInt8),
                "start": pl.Series(self.start, dtype=pl.String),
                "end": pl.Series(self.end, dtype=pl.String),
                "value": pl.Series(self.value, dtype=pl.String),
                "device_raw": pl.Series(self.device, dtype=pl.String),
                "source_name": pl.Series(self.source_name, dtype=pl.String),
            }
        )


@dataclass
class WorkoutRow:
    """One ``<Workout>``: its attributes and the heart-rate statistics among its children."""

    activity_type: str | None
    start: str | None
    end: str | None
    duration: str | None
    duration_unit: str | None
    device: str | None
    source_name: str | None
    avg_heart_rate: str | None
    max_heart_rate: str | None


@dataclass
class ScanOutcome:
    """What a scan found besides the record chunks."""

    workouts: list[WorkoutRow] = field(default_factory=list)
    birth_date: str | None = None
    export_date: str | None = None
    records_by_type: Counter[str] = field(default_factory=Counter)
    nested_records_skipped: int = 0
    damage: str | None = None
    """Why the scan stopped early (damaged XML); everything before it was handed on."""
    fast_path: str | None = None
    """How much of the file the fast path read (``ingest.apple.fast_scan``), or why it did not."""


class NotAppleHealth(ValueError):
    """The document is not an Apple Health export (foreign root element or unsafe XML)."""


def check_root(head: bytes) -> None:
    """Raise ``NotAppleHealth`` unless ``head`` starts a safe document whose root is ``<HealthData>``."""
    try:
        refuse_entities(head)
    except ValueError as e:
        raise NotAppleHealth(str(e)) from e
    try:
        for _, element in safe_iterparse(io.BytesIO(head), events=("start",)):
            if element.tag != ROOT_TAG:
                raise NotAppleHealth(f"root element is <{element.tag}>, not <{ROOT_TAG}>")
            return
    except XML_ERRORS as e:
        raise NotAppleHealth(f"not well-formed XML: {e}") from e
    raise NotAppleHealth("no root element")


class RecordSink:
    """Takes parsed ``Record``/``Workout``/``Me``/``ExportDate`` elements and hands on record chunks.

    Shared by the whole-file ``iterparse`` path and the pull parser of
    ``ingest.apple.fast_scan``, so both read an element the same way.
    """

    def __init__(
        self, on_chunk: Callable[[pl.DataFrame], None], chunk_records: int = CHUNK_RECORDS
    ) -> None:
        self.on_chunk, self.chunk_records = on_chunk, chunk_records
        self.out = ScanOutcome()
        self.chunk = RecordChunk()
        self.root: etree._Element | None = None

    def take(self, element: etree._Element) -> None:
        """Read one element's attributes, then clear it and the siblings before it."""
        parent = element.getparent()
        if self.root is None:
            self.root = element.getroottree().getroot()
        tag, out = element.tag, self.out
        if tag == "Record":
            get = element.get
            record_type = get("type")
            code = RECORD_TYPES.get(record_type)
            if code is not None:
                if parent is not self.root:
                    out.nested_records_skipped += 1
                else:
                    out.records_by_type[record_type] += 1
                    chunk = self.chunk
                    chunk.kind.append(code)
                    chunk.start.append(get("startDate"))
                    chunk.end.append(get("endDate"))
                    chunk.value.append(get("value"))
                    chunk.device.append(get("device"))
                    chunk.source_name.append(get("sourceName"))
                    if len(chunk.kind) >= self.chunk_records:
                        self.flush()
        elif tag == "Workout":
            out.workouts.append(_workout(element))
        elif tag == "Me":
            out.birth_date = element.get("HKCharacteristicTypeIdentifierDateOfBirth") or None
        elif tag == "ExportDate":
            out.export_date = element.get("value")
        element.clear()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]

    def flush(self) -> None:
        """Hand on the records taken so far (keeps file order with chunks read elsewhere)."""
        if len(self.chunk):
            self.on_chunk(self.chunk.to_frame())
            self.chunk = RecordChunk()


WANTED_TAGS = ("Record", "Workout", "Me", "ExportDate")


def scan_export(
    source: IO[bytes],
    on_chunk: Callable[[pl.DataFrame], None],
    *,
    chunk_records: int = CHUNK_RECORDS,
) -> ScanOutcome:
    """Read ``source`` (positioned at the start of ``export.xml``) and hand on its records.

    ``on_chunk`` receives frames of raw attribute strings (``RecordChunk.to_frame``).
    Raises ``NotAppleHealth`` for a foreign or unsafe document; damage later
    in the file ends the scan with ``ScanOutcome.damage`` set.
    """
    check_root(source.read(PROLOG_LIMIT_BYTES))
    source.seek(0)
    sink = RecordSink(on_chunk, chunk_records)
    try:
        for _, element in safe_iterparse(source, events=("end",), tag=WANTED_TAGS):
            sink.take(element)
    except XML_ERRORS as e:
        sink.out.damage = f"damaged XML: {e}"
    sink.flush()
    return sink.out


def _workout(element: etree._Element) -> WorkoutRow:
    avg = maximum = None
    for child in element:
        if child.tag == "WorkoutStatistics" and child.get("type") == HEART_RATE_STATISTIC:
            avg, maximum = child.get("average"), child.get("maximum")
    get = element.get
    return WorkoutRow(
        activity_type=get("workoutActivityType"),
        start=get("startDate"),
        end=get("endDate"),
        duration=get("duration"),
        duration_unit=get("durationUnit"),
        device=get("device"),
        source_name=get("sourceName"),
        avg_heart_rate=avg,
        max_heart_rate=maximum,
    )
