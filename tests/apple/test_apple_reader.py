"""Apple Health export.xml: literal cases of spreading, offsets, devices, workouts, damage and safety."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from config.study import StudyConfig
from features.combine import combine_quarters, count_bits
from ingest.apple import read_export_xml
from ingest.apple.minutes import device_label
from ingest.contract import ReadContext
from ingest.pipeline import Ingestor
from tests.apple.builders import (
    EXERCISE,
    HEART_RATE,
    IPHONE,
    RESTING,
    STEPS,
    WATCH,
    export_xml,
    export_zip,
    record,
    workout,
)

CET, CEST = timezone(timedelta(hours=1)), timezone(timedelta(hours=2))
CTX = ReadContext("P01", "f" * 64, "export.xml", timezone="Europe/Oslo")


def read(xml: bytes, ctx: ReadContext = CTX):  # noqa: ANN201
    return read_export_xml(io.BytesIO(xml), ctx)


def minutes_of(xml: bytes) -> pl.DataFrame:
    result = read(xml)
    assert result.status == "ok", result.reason
    return pl.from_arrow(result.tables["minutes"])  # type: ignore[return-value]


def test_a_step_record_across_midnight_and_the_spring_dst_change_is_spread_pro_rata() -> None:
    # 00:55 CET to 03:05 CEST on 29 March 2026 is 70 real minutes (23:55 to 01:05 UTC).
    xml = export_xml(
        record(
            STEPS,
            datetime(2026, 3, 29, 0, 55, tzinfo=CET),
            datetime(2026, 3, 29, 3, 5, tzinfo=CEST),
            7001,
            device=IPHONE,
            source="Jane’s iPhone",
        )
    )
    m = minutes_of(xml)
    assert m.height == 70
    assert m["steps"].sum() == 7001  # pro rata, no step made or lost by rounding
    assert sorted(set(m["steps"].to_list())) == [100, 101]
    assert m["minute_utc"].min() == datetime(2026, 3, 28, 23, 55, tzinfo=UTC)
    assert m["minute_utc"].max() == datetime(2026, 3, 29, 1, 4, tzinfo=UTC)
    before = m.filter(pl.col("minute_utc") < datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    assert set(before["utc_offset_minutes"].to_list()) == {60} and before.height == 65
    assert set(
        m.filter(pl.col("minute_utc") >= datetime(2026, 3, 29, 1, tzinfo=UTC))["utc_offset_minutes"]
    ) == {120}
    assert set(m["device"].to_list()) == {"iPhone (iPhone14,5)"}
    assert m["heart_rate_bpm"].null_count() == 70


def test_a_partial_first_and_last_minute_get_their_share() -> None:
    start = datetime(2026, 3, 10, 8, 0, 30, tzinfo=CET)
    xml = export_xml(
        record(STEPS, start, start + timedelta(minutes=2), 240, device=WATCH, source="Watch")
    )
    m = minutes_of(xml)
    assert m["steps"].to_list() == [60, 120, 60]


def test_each_record_keeps_its_own_offset_and_heart_rate_is_averaged_per_minute() -> None:
    t = datetime(
        2026, 7, 1, 12, 0, 5, tzinfo=timezone(timedelta(hours=-4))
    )  # travelling: New York offset
    body = record(HEART_RATE, t, t, 100, device=WATCH, source="W") + record(
        HEART_RATE,
        t + timedelta(seconds=30),
        t + timedelta(seconds=30),
        110,
        device=WATCH,
        source="W",
    )
    m = minutes_of(export_xml(body))
    assert m.select("minute_utc", "utc_offset_minutes", "heart_rate_bpm").rows() == [
        (datetime(2026, 7, 1, 16, 0, tzinfo=UTC), -240, 105.0)
    ]


def _walk(device: str, source: str, per_minute: int, start: datetime) -> str:
    return "".join(
        record(
            STEPS,
            start + timedelta(minutes=i),
            start + timedelta(minutes=i + 1),
            per_minute,
            device=device,
            source=source,
        )
        for i in range(10)
    )


def test_an_iphone_and_a_watch_counting_the_same_walk_are_counted_once(tmp_path: Path) -> None:
    start = datetime(2026, 3, 11, 17, 0, tzinfo=CET)
    body = _walk(IPHONE, "Jane’s iPhone", 112, start) + _walk(
        WATCH, "Jane’s Apple Watch", 118, start
    )
    body += "".join(
        record(
            HEART_RATE,
            start + timedelta(minutes=i, seconds=20),
            start + timedelta(minutes=i, seconds=20),
            120,
            device=WATCH,
            source="Jane’s Apple Watch",
        )
        for i in range(10)
    )
    m = minutes_of(export_xml(body))
    assert m.height == 20  # one row per device and minute
    assert m.group_by("device").agg(pl.col("steps").sum()).sort("device").rows() == [
        ("Apple Watch (Watch6,2)", 1180),
        ("iPhone (iPhone14,5)", 1120),
    ]
    config = StudyConfig.model_validate({"intensity": {"methods": ["device", "cadence"]}})
    lake_rows = m.with_columns(
        pl.lit("P01").alias("participant_id"), pl.lit(None, pl.Float32).alias("mets")
    )
    profiles = pl.DataFrame(
        schema={
            "participant_id": pl.String,
            "observed_utc": pl.Datetime("us", "UTC"),
            "resting_heart_rate_bpm": pl.Float32,
            "max_heart_rate_bpm": pl.Float32,
            "age_years": pl.Int16,
            "birth_year": pl.Int16,
        }
    )
    roster = pl.DataFrame(
        {"participant_id": ["P01"], "birth_year": [None], "resting_hr": [None], "max_hr": [None]},
        schema={
            "participant_id": pl.String,
            "birth_year": pl.Int32,
            "resting_hr": pl.Float64,
            "max_hr": pl.Float64,
        },
    )
    quarters = combine_quarters(lake_rows.lazy(), profiles.lazy(), roster, config)
    assert quarters.select(count_bits("mvpa_bits").sum()).item() == 10
    assert quarters.select(count_bits("present_bits").sum()).item() == 10


def test_exercise_minutes_are_their_own_at_least_moderate_rows() -> None:
    start = datetime(2026, 3, 12, 7, 0, 30, tzinfo=CET)
    body = "".join(
        record(
            EXERCISE,
            start + timedelta(minutes=i),
            start + timedelta(minutes=i + 1),
            1,
            device=WATCH,
            source="W",
        )
        for i in range(3)
    ) + record(HEART_RATE, start, start, 150, device=WATCH, source="W")
    m = minutes_of(export_xml(body))
    labels = m.filter(pl.col("intensity") == "moderate")
    assert (
        labels.height == 3
    )  # three one-minute samples straddling four clock minutes: three labels
    assert labels["worn"].to_list() == [True] * 3 and labels["heart_rate_bpm"].null_count() == 3
    assert m.filter(pl.col("heart_rate_bpm").is_not_null())["intensity"].to_list() == [None]


def test_workouts_become_sessions_with_their_heart_rate_statistics_and_resting_rate_a_profile() -> (
    None
):
    start = datetime(2026, 3, 14, 9, 0, tzinfo=CET)
    body = workout(
        "Running",
        start,
        start + timedelta(minutes=42),
        avg_hr=151.5,
        max_hr=171,
        source="Jane’s Apple Watch",
    )
    body += workout(
        "Yoga",
        start + timedelta(hours=8),
        start + timedelta(hours=9),
        avg_hr=None,
        max_hr=None,
        source="W",
    )
    body += record(
        RESTING,
        start.replace(hour=0),
        start.replace(hour=23, minute=59),
        54,
        device=WATCH,
        source="W",
    )
    result = read(export_xml(body))
    assert result.status == "ok"
    s = pl.from_arrow(result.tables["sessions"])
    assert s.select(
        "sport",
        "start_utc",
        "end_utc",
        "timer_seconds",
        "avg_heart_rate_bpm",
        "max_heart_rate_bpm",
        "device",
    ).rows() == [
        (
            "Running",
            datetime(2026, 3, 14, 8, tzinfo=UTC),
            datetime(2026, 3, 14, 8, 42, tzinfo=UTC),
            2520.0,
            151.5,
            171.0,
            "Apple Watch",
        ),
        (
            "Yoga",
            datetime(2026, 3, 14, 16, tzinfo=UTC),
            datetime(2026, 3, 14, 17, tzinfo=UTC),
            3600.0,
            None,
            None,
            "W",
        ),
    ]
    p = pl.from_arrow(result.tables["profiles"])
    assert p.select("resting_heart_rate_bpm", "age_years").rows() == [(54.0, None), (None, 45)]
    assert "minutes" not in result.tables


def test_device_labels_drop_the_owners_name() -> None:
    assert device_label(WATCH, "Jane’s Apple Watch") == "Apple Watch (Watch6,2)"
    assert device_label(None, "Jane's iPhone") == "iPhone"
    assert device_label(None, "Strava") == "Strava"


def test_foreign_xml_is_quarantined_and_damage_keeps_the_records_before_it() -> None:
    foreign = read(b'<?xml version="1.0"?><gpx version="1.1"><trk/></gpx>')
    assert foreign.status == "quarantined" and "root element is <gpx>" in (foreign.reason or "")
    t = datetime(2026, 3, 10, 8, 0, tzinfo=CET)
    whole = export_xml(
        record(STEPS, t, t + timedelta(minutes=1), 90, device=WATCH, source="W") * 1
        + record(
            STEPS, t + timedelta(minutes=5), t + timedelta(minutes=6), 95, device=WATCH, source="W"
        )
    )
    cut = whole[: whole.rindex(b"<Record") + 40]
    damaged = read(cut)
    assert damaged.status == "partial" and "damaged XML" in (damaged.reason or "")
    assert pl.from_arrow(damaged.tables["minutes"])["steps"].to_list() == [90]
    assert read(b"\x00\x01garbage").status == "quarantined"


def test_a_billion_laughs_export_is_refused_before_parsing() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE HealthData [{entities}]><HealthData><Record type="{STEPS}" value="&lol9;"/></HealthData>'
    result = read(bomb.encode())
    assert result.status == "quarantined" and "declares entities" in (result.reason or "")
    external = f'<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY e SYSTEM "file:///etc/passwd">]><HealthData><Record type="{STEPS}" value="&e;"/></HealthData>'
    assert read(external.encode()).status == "quarantined"


def test_an_export_zip_through_the_pipeline_lands_minutes_and_lists_its_routes(
    tmp_path: Path,
) -> None:
    start = datetime(2026, 3, 11, 17, 0, tzinfo=CET)
    xml = export_xml(
        _walk(IPHONE, "Jane’s iPhone", 112, start) + _walk(WATCH, "Jane’s Apple Watch", 118, start)
    )
    zipped = tmp_path / "export.zip"
    zipped.write_bytes(
        export_zip(
            xml,
            {"workout-routes/route_2026-03-11_5.00pm.gpx": b"<gpx/>", "export_cda.xml": b"<x/>"},
        )
    )
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}),
        tmp_path / "study" / "roster.csv",
    )
    study = open_study(tmp_path / "study")
    report = Ingestor(study).ingest("P01", [zipped])
    outcomes = {
        o.path.split("!/")[-1]: (o.kind, o.status, o.rows.get("minutes", 0))
        for o in report.outcomes
    }
    assert outcomes["apple_health_export/export.xml"] == ("apple_health", "ok", 20)
    assert outcomes["apple_health_export/workout-routes/route_2026-03-11_5.00pm.gpx"][:2] == (
        "apple_health",
        "skipped",
    )
    assert outcomes["apple_health_export/export_cda.xml"][:2] == ("apple_health", "skipped")
    lake = Ingestor(study).lake.scan("minutes").collect()
    assert lake.height == 20 and set(lake["source"]) == {"apple_health"}
    again = Ingestor(study).ingest("P01", [zipped])
    assert again.new_files == 0


@pytest.mark.parametrize("seed", range(40))
def test_damaged_exports_never_raise(seed: int) -> None:
    import random

    rng = random.Random(seed)
    t = datetime(2026, 3, 10, 8, 0, tzinfo=CET)
    data = bytearray(
        export_xml(
            _walk(WATCH, "W", 100, t)
            + workout("Walking", t, t + timedelta(minutes=10), avg_hr=100, max_hr=120, source="W")
        )
    )
    for _ in range(rng.randint(1, 20)):
        i = rng.randrange(len(data))
        op = rng.random()
        if op < 0.4:
            data[i] = rng.randrange(256)
        elif op < 0.7:
            del data[i : i + rng.randint(1, 50)]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    result = read(bytes(data))
    assert result.status in {"ok", "partial", "quarantined", "skipped"}
    if result.status == "quarantined":
        assert result.reason


@pytest.mark.parametrize("handed_over", ["zip", "folder", "loose"])
def test_a_large_export_xml_is_hashed_and_read_as_a_stream_never_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handed_over: str
) -> None:
    """In an export.zip, an unzipped folder or alone: a large export.xml is never in memory whole."""
    import hashlib
    import zipfile

    import ingest.pipeline as pipeline
    from ingest.contract import Member

    start = datetime(2026, 3, 11, 17, 0, tzinfo=CET)
    xml = export_xml(
        _walk(IPHONE, "Jane’s iPhone", 112, start) + _walk(WATCH, "Jane’s Apple Watch", 118, start)
    )
    if handed_over == "folder":
        source = tmp_path / "apple_health_export"
        source.mkdir()
        (source / "export.xml").write_bytes(xml)
    elif handed_over == "loose":
        source = tmp_path / "export.xml"
        source.write_bytes(xml)
    else:
        source = tmp_path / "export.zip"
        source.write_bytes(export_zip(xml))
    loaded: list[str] = []
    real_load = Member.__init__

    def spy_init(self, path, size, load, stream=None):  # noqa: ANN001, ANN202
        def counting_load() -> bytes:
            loaded.append(path)
            return load()

        real_load(self, path, size, counting_load, stream)

    monkeypatch.setattr(Member, "__init__", spy_init)
    monkeypatch.setattr(pipeline, "STREAM_MEMBERS_OVER", 0)  # every member counts as large
    read_whole: list[Path] = []
    real_read_regular = pipeline.read_regular

    def spy_read_regular(path: Path, **kwargs: bool) -> bytes:
        read_whole.append(Path(path))
        return real_read_regular(path, **kwargs)

    monkeypatch.setattr(pipeline, "read_regular", spy_read_regular)
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}),
        tmp_path / "study" / "roster.csv",
    )
    study = open_study(tmp_path / "study")
    report = Ingestor(study).ingest("P01", [source])
    export = next(o for o in report.outcomes if o.path.endswith("export.xml"))
    assert (export.kind, export.status, export.rows["minutes"]) == ("apple_health", "ok", 20)
    assert not [p for p in loaded if p.endswith("export.xml")], loaded
    assert export.file_id == hashlib.sha256(xml).hexdigest()  # the same id as when loaded whole
    lake = Ingestor(study).lake.scan("minutes").collect()
    assert lake.height == 20 and lake["steps"].sum() == 10 * (112 + 118)  # 10 minutes, 2 devices
    assert Ingestor(study).ingest("P01", [source]).new_files == 0
    assert (
        source not in read_whole
    )  # the loose export.zip or export.xml is hashed from a stream too
    if handed_over == "zip":
        with zipfile.ZipFile(source) as z:
            assert z.getinfo("apple_health_export/export.xml").file_size == len(xml)
        zip_row = next(o for o in report.outcomes if o.path == str(source))
        assert zip_row.file_id == hashlib.sha256(source.read_bytes()).hexdigest()


def test_a_large_corrupt_zip_hashed_as_a_stream_is_quarantined_with_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    import ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "STREAM_MEMBERS_OVER", 0)
    bad = tmp_path / "export.zip"
    bad.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)  # a zip header, then no archive
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}),
        tmp_path / "study" / "roster.csv",
    )
    study = open_study(tmp_path / "study")
    report = Ingestor(study).ingest("P01", [bad])
    (row,) = report.outcomes
    assert (row.kind, row.status) == ("zip", "quarantined") and "corrupt zip" in (row.reason or "")
    assert row.file_id == hashlib.sha256(bad.read_bytes()).hexdigest()
    copies = [p for p in (tmp_path / "study").rglob("*") if p.is_file() and p.name == "export.zip"]
    assert [c.read_bytes() for c in copies] == [bad.read_bytes()]  # the quarantine copy is whole


def test_records_after_the_export_date_plus_a_day_are_left_out_and_counted(
    tmp_path: Path,
) -> None:
    # the export says it was written on 1 April 2026 12:00 +0200; a walk on 11 March is real,
    # one on 20 April (a phone whose clock ran ahead) cannot be in that file
    real = _walk(IPHONE, "Jane’s iPhone", 112, datetime(2026, 3, 11, 17, 0, tzinfo=CET))
    ahead = _walk(IPHONE, "Jane’s iPhone", 112, datetime(2026, 4, 20, 17, 0, tzinfo=CET))
    zipped = tmp_path / "export.zip"
    zipped.write_bytes(export_zip(export_xml(real + ahead)))
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}),
        tmp_path / "study" / "roster.csv",
    )
    study = open_study(tmp_path / "study")
    report = Ingestor(study).ingest("P01", [zipped])
    (xml,) = [o for o in report.outcomes if o.path.endswith("export.xml")]
    assert (xml.status, xml.rows.get("minutes")) == ("ok", 10)
    notes = json.loads(
        Ingestor(study)
        .lake.manifest()
        .filter(pl.col("path").str.ends_with("export.xml"))["notes"][0]
    )
    assert notes["written_utc"] == "2026-04-01T10:00:00+00:00"
    assert notes["times_implausible_dropped"] == 10
    assert notes["times_implausible_dropped_examples"][0] == (
        "minutes 2026-04-20T16:00:00Z: after the file's own creation time "
        "(2026-04-01T10:00:00+00:00) plus a day (2026-04-02T10:00Z)"
    )
