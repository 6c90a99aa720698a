"""irisin export omh: data points for a small real-shaped study, validated against the vendored Open mHealth schemas."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor
from pipeline.omh.export import export_omh
from pipeline.omh.schemas import registry, schema
from tests.activity_xml.test_tcx_gpx import tcx
from tests.apple.builders import (
    HEART_RATE,
    IPHONE,
    STEPS,
    WATCH,
    export_xml,
    export_zip,
    record,
    workout,
)

CET = timezone(timedelta(hours=1))


def _validator(name: str, *, ieee: bool = False) -> jsonschema.protocols.Validator:
    """A validator for a vendored schema, of the draft the schema declares (04 for OMH, 07 for IEEE)."""
    contents = schema(name, ieee=ieee)
    kind = jsonschema.validators.validator_for(contents)
    return kind(contents, registry=registry(), format_checker=kind.FORMAT_CHECKER)


def _rfc3339(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, text
    return parsed


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    root = tmp_path_factory.mktemp("omh")
    start = datetime(2026, 3, 11, 17, 0, tzinfo=CET)
    body = "".join(
        record(
            STEPS,
            start + timedelta(minutes=i),
            start + timedelta(minutes=i + 1),
            112,
            device=IPHONE,
            source="Jane’s iPhone",
        )
        + record(
            STEPS,
            start + timedelta(minutes=i),
            start + timedelta(minutes=i + 1),
            118,
            device=WATCH,
            source="Jane’s Apple Watch",
        )
        + record(
            HEART_RATE,
            start + timedelta(minutes=i, seconds=30),
            start + timedelta(minutes=i, seconds=30),
            120 + i,
            device=WATCH,
            source="W",
        )
        for i in range(10)
    ) + workout(
        "Walking",
        start,
        start + timedelta(minutes=10),
        avg_hr=125,
        max_hr=130,
        source="Jane’s Apple Watch",
    )
    inbox = root / "inbox"
    inbox.mkdir()
    (inbox / "export.zip").write_bytes(export_zip(export_xml(body)))
    (inbox / "run.tcx").write_bytes(tcx([(5, 150, 80)]))
    init_study(root / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}),
        root / "study" / "roster.csv",
    )
    study = open_study(root / "study")
    Ingestor(study).ingest("P01", [inbox / "export.zip", inbox / "run.tcx"])
    out = root / "out"
    counts = export_omh(study, out)
    points = {
        name: [
            json.loads(line) for line in (out / "P01" / f"{name}.jsonl").read_text().splitlines()
        ]
        for name in ("step-count", "heart-rate", "physical-activity")
    }
    assert counts == {k: len(v) for k, v in points.items()}
    return out, points


def test_every_data_point_validates_against_the_published_schemas(
    exported: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    _, points = exported
    bodies = {
        "step-count": "step-count-2.0.json",
        "heart-rate": "heart-rate-1.0.json",
        "physical-activity": "physical-activity-1.0.json",
    }
    data_point, duration = (
        _validator("data-point-1.0.json"),
        _validator("duration-unit-value-1.0.json"),
    )
    for name, file in bodies.items():
        body = _validator(file)
        assert points[name]
        for p in points[name]:
            data_point.validate(p)
            body.validate(p["body"])
            assert p["header"]["schema_id"]["name"] == name
            _rfc3339(p["header"]["creation_date_time"])
            for key in ("start_date_time", "end_date_time"):
                if key in p["body"]["effective_time_frame"]["time_interval"]:
                    _rfc3339(p["body"]["effective_time_frame"]["time_interval"][key])
            if "duration" in p["body"] and name == "physical-activity":
                duration.validate(p["body"]["duration"])


def test_every_data_point_validates_against_the_ieee_1752_1_schemas(
    exported: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    _, points = exported
    data_point = _validator("data-point-1.0.json", ieee=True)
    activity = _validator("physical-activity-1.0.json", ieee=True)
    assert data_point.schema["$id"] == "https://w3id.org/ieee/ieee-1752-schema/data-point.json"
    assert activity.schema["$id"] == "https://w3id.org/ieee/ieee-1752-schema/physical-activity.json"
    for kind in points.values():
        for p in kind:
            data_point.validate(p)
            assert p["header"]["uuid"] == p["header"]["id"]
    weeks = 0
    for p in points["physical-activity"]:
        activity.validate(p["body"])
        if "duration_moderate_activity" in p["body"]:
            weeks += 1
            body = p["body"]
            assert (
                body["duration_moderate_activity"]["value"]
                + body["duration_vigorous_activity"]["value"]
                == body["duration"]["value"]
            )
    assert weeks >= 1


def test_a_broken_point_fails_the_ieee_1752_1_schemas() -> None:
    activity = _validator("physical-activity-1.0.json", ieee=True)
    week = {
        "activity_name": "moderate-to-vigorous physical activity",
        "effective_time_frame": {
            "time_interval": {
                "start_date_time": "2026-03-09T00:00:00+01:00",
                "end_date_time": "2026-03-16T00:00:00+01:00",
            }
        },
        "duration_moderate_activity": {"value": 40, "unit": "min"},
    }
    activity.validate(week)
    # through IEEE physical-activity -> duration-unit-value: "minutes" is not a unit
    with pytest.raises(jsonschema.ValidationError, match="'minutes' is not one of"):
        activity.validate(week | {"duration_vigorous_activity": {"value": 5, "unit": "minutes"}})
    with pytest.raises(jsonschema.ValidationError, match="'time_interval' is a required property"):
        activity.validate(
            week | {"effective_time_frame": {"date_time": "2026-03-09T00:00:00+01:00"}}
        )
    with pytest.raises(jsonschema.ValidationError, match="'kcal' was expected|is not one of"):
        activity.validate(week | {"kcal_burned": {"value": 100, "unit": "kJ"}})
    with pytest.raises(jsonschema.ValidationError, match="'activity_name' is a required property"):
        activity.validate({k: v for k, v in week.items() if k != "activity_name"})
    # the IEEE header asks for uuid and source_creation_date_time, and a real date-time
    header = {
        "uuid": "3b1f0c52-6f4e-5d7a-9a43-1c2d3e4f5a6b",
        "schema_id": {"namespace": "ieee", "name": "physical-activity", "version": "1.0"},
        "source_creation_date_time": "2026-03-11T17:00:00Z",
    }
    data_point = _validator("data-point-1.0.json", ieee=True)
    data_point.validate({"header": header, "body": week})
    with pytest.raises(jsonschema.ValidationError, match="'uuid' is a required property"):
        data_point.validate(
            {"header": {k: v for k, v in header.items() if k != "uuid"}, "body": week}
        )
    with pytest.raises(jsonschema.ValidationError, match="is not a 'date-time'"):
        data_point.validate(
            {"header": header | {"source_creation_date_time": "yesterday"}, "body": week}
        )


def test_a_broken_point_fails_validation() -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator("step-count-2.0.json").validate(
            {"step_count": 10, "effective_time_frame": {"date_time": "2026-03-11T17:00:00Z"}}
        )
    with pytest.raises(jsonschema.ValidationError):
        _validator("heart-rate-1.0.json").validate({"heart_rate": {"value": 120, "unit": "bpm"}})
    # through time-frame -> time-interval -> duration-unit-value (vendored files resolved by reference)
    bad_unit = {
        "time_interval": {
            "start_date_time": "2026-03-11T17:00:00Z",
            "duration": {"value": 1, "unit": "minutes"},
        }
    }
    with pytest.raises(jsonschema.ValidationError):
        _validator("step-count-2.0.json").validate(
            {"step_count": 10, "effective_time_frame": bad_unit}
        )
    with pytest.raises(jsonschema.ValidationError):
        _validator("data-point-1.0.json").validate(
            {
                "header": {
                    "id": "x",
                    "creation_date_time": "2026-03-11T17:00:00Z",
                    "schema_id": {"name": "step-count"},
                },
                "body": {},
            }
        )
    # through header -> the IEEE 1752.1 schema-id file: the version must be a string
    header = {
        "id": "x",
        "creation_date_time": "2026-03-11T17:00:00Z",
        "schema_id": {"namespace": "omh", "name": "step-count", "version": 2.0},
    }
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        _validator("data-point-1.0.json").validate({"header": header, "body": {}})
    header["schema_id"]["version"] = "2.0"  # type: ignore[index]
    _validator("header-1.0.json").validate(header)


def test_steps_are_counted_once_and_carry_local_time_and_provenance(
    exported: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    _, points = exported
    steps = points["step-count"]
    apple = [
        p for p in steps if "apple_health" in p["header"]["acquisition_provenance"]["source_name"]
    ]
    assert [p["body"]["step_count"] for p in apple] == [
        118
    ] * 10  # iPhone 112 and Watch 118: the larger, not 230
    first = apple[0]["body"]["effective_time_frame"]["time_interval"]
    assert first == {
        "start_date_time": "2026-03-11T17:00:00+01:00",
        "duration": {"value": 1, "unit": "min"},
    }
    provenance = apple[0]["header"]["acquisition_provenance"]
    assert provenance["irisin_version"] and len(provenance["config_hash"]) >= 8
    assert provenance["source_files"] == [provenance["source_files"][0]] and provenance[
        "source_files"
    ][0].endswith("export.zip!/apple_health_export/export.xml")
    hr = [
        p["body"]["heart_rate"]["value"]
        for p in points["heart-rate"]
        if "apple_health" in p["header"]["acquisition_provenance"]["source_name"]
    ]
    assert hr == [120.0 + i for i in range(10)]
    assert len({p["header"]["id"] for p in steps}) == len(steps)


def test_sessions_and_weeks_are_physical_activity(
    exported: tuple[Path, dict[str, list[dict[str, Any]]]],
) -> None:
    _, points = exported
    activity = points["physical-activity"]
    names = [p["body"]["activity_name"] for p in activity]
    assert "Walking" in names and "Running" in names
    weeks = [
        p["body"]
        for p in activity
        if p["body"]["activity_name"] == "moderate-to-vigorous physical activity"
    ]
    assert {w["effective_time_frame"]["time_interval"]["start_date_time"] for w in weeks} == {
        "2026-03-09T00:00:00+01:00"
    }
    week = weeks[0]
    # ten walking minutes at 112-118 steps/min (cadence, moderate) plus the 5-minute TCX run at 150 bpm
    assert week["duration"]["unit"] == "min" and week["duration"]["value"] >= 10
    assert week["weekly_status"] in {"met", "below", "insufficient"}
    hashes = {
        p["header"]["acquisition_provenance"]["config_hash"]
        for kind in points.values()
        for p in kind
    }
    assert len(hashes) == 1  # minutes, sessions and weeks name the same study inputs


def test_a_second_export_names_the_same_points_the_same_way(
    exported: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path
) -> None:
    out, points = exported
    study = open_study(out.parent / "study")
    export_omh(study, tmp_path)
    again = [
        json.loads(line)["header"]["id"]
        for line in (tmp_path / "P01" / "step-count.jsonl").read_text().splitlines()
    ]
    assert again == [p["header"]["id"] for p in points["step-count"]]


def test_the_cli_writes_the_same_points(
    exported: tuple[Path, dict[str, list[dict[str, Any]]]], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from irisin.cli import app

    out, points = exported
    study = out.parent / "study"
    result = CliRunner().invoke(
        app, ["export", "omh", "--study", str(study), "--out", str(tmp_path / "cli")]
    )
    assert result.exit_code == 0, result.output
    for name, expected in points.items():
        lines = (tmp_path / "cli" / "P01" / f"{name}.jsonl").read_text().splitlines()
        got = [json.loads(line) for line in lines]
        assert len(got) == len(expected) > 0
        assert [p["body"] for p in got] == [p["body"] for p in expected]
        assert [p["header"]["id"] for p in got] == [p["header"]["id"] for p in expected]
