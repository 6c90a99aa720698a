"""Small Apple Health exports written the way the Health app writes them."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from xml.sax.saxutils import quoteattr

PROLOG = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record type CDATA #REQUIRED unit CDATA #IMPLIED value CDATA #IMPLIED>
]>
<HealthData locale="en_GB">
 <ExportDate value="2026-04-01 12:00:00 +0200"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1980-05-01" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
"""
IPHONE = "<<HKDevice: 0x283f1>, name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.4>"
WATCH = "<<HKDevice: 0x283f2>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.4>"
STEPS = "HKQuantityTypeIdentifierStepCount"
HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
EXERCISE = "HKQuantityTypeIdentifierAppleExerciseTime"
RESTING = "HKQuantityTypeIdentifierRestingHeartRate"
UNITS = {STEPS: "count", HEART_RATE: "count/min", EXERCISE: "min", RESTING: "count/min"}


def stamp(t: datetime) -> str:
    """Apple's timestamp form: local time and its offset, ``2026-03-01 08:15:00 +0100``."""
    return t.strftime("%Y-%m-%d %H:%M:%S %z")


def record(
    kind: str, start: datetime, end: datetime, value: float, *, device: str | None, source: str
) -> str:
    dev = f" device={quoteattr(device)}" if device else ""
    return (
        f' <Record type={quoteattr(kind)} sourceName={quoteattr(source)} sourceVersion="17.4"{dev}'
        f" unit={quoteattr(UNITS[kind])} creationDate={quoteattr(stamp(end))}"
        f' startDate={quoteattr(stamp(start))} endDate={quoteattr(stamp(end))} value="{value:g}"/>\n'
    )


def workout(
    kind: str,
    start: datetime,
    end: datetime,
    *,
    avg_hr: float | None,
    max_hr: float | None,
    source: str,
) -> str:
    minutes = (end - start).total_seconds() / 60
    stats = ""
    if avg_hr is not None:
        stats = (
            f'  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" startDate={quoteattr(stamp(start))}'
            f' endDate={quoteattr(stamp(end))} average="{avg_hr:g}" minimum="70" maximum="{max_hr:g}" unit="count/min"/>\n'
        )
    return (
        f' <Workout workoutActivityType="HKWorkoutActivityType{kind}" duration="{minutes:g}" durationUnit="min"'
        f" sourceName={quoteattr(source)} startDate={quoteattr(stamp(start))} endDate={quoteattr(stamp(end))}>\n"
        f'  <MetadataEntry key="HKIndoorWorkout" value="0"/>\n{stats} </Workout>\n'
    )


def export_xml(body: str) -> bytes:
    return (PROLOG + body + "</HealthData>\n").encode()


def export_zip(xml: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("apple_health_export/export.xml", xml)
        for name, data in (extra or {}).items():
            z.writestr(f"apple_health_export/{name}", data)
    return buffer.getvalue()
