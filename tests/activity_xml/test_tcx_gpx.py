"""TCX and GPX activity files: literal minutes and sessions, a lap without heart rate, damage and safety."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.activity_xml import read_activity_file
from ingest.contract import ReadContext
from ingest.pipeline import Ingestor

CTX = ReadContext("P01", "f" * 64, "run.tcx", timezone="Europe/Oslo")
START = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def tcx(
    laps: list[tuple[int, float | None, int]], sport: str = "Running", start: datetime = START
) -> bytes:
    """Laps of (minutes, heart rate or None, run cadence); a trackpoint every 5 s."""
    t = start
    out = []
    for minutes, hr, cadence in laps:
        avg = (
            f"<AverageHeartRateBpm><Value>{hr:g}</Value></AverageHeartRateBpm><MaximumHeartRateBpm><Value>{hr + 10:g}</Value></MaximumHeartRateBpm>"
            if hr
            else ""
        )
        points = []
        for i in range(minutes * 12):
            p = t + timedelta(seconds=5 * i)
            hr_el = f"<HeartRateBpm><Value>{hr:g}</Value></HeartRateBpm>" if hr else ""
            points.append(
                f"<Trackpoint><Time>{_z(p)}</Time>{hr_el}"
                f'<Extensions><TPX xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><RunCadence>{cadence}</RunCadence></TPX></Extensions></Trackpoint>'
            )
        out.append(
            f'<Lap StartTime="{_z(t)}"><TotalTimeSeconds>{minutes * 60}</TotalTimeSeconds>{avg}'
            f"<Track>{''.join(points)}</Track></Lap>"
        )
        t += timedelta(minutes=minutes)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        f'<Activities><Activity Sport="{sport}"><Id>{_z(start)}</Id>{"".join(out)}'
        "<Creator><Name>Polar Vantage V2</Name></Creator></Activity></Activities></TrainingCenterDatabase>"
    ).encode()


def gpx(minutes: int, hr: int, cad: int, kind: str = "running", start: datetime = START) -> bytes:
    points = "".join(
        f'<trkpt lat="59.9" lon="10.7"><time>{(start + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")}</time>'
        f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{hr}</gpxtpx:hr><gpxtpx:cad>{cad}</gpxtpx:cad>"
        "</gpxtpx:TrackPointExtension></extensions></trkpt>"
        for s in range(0, minutes * 60, 2)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx creator="StravaGPX" version="1.1" xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><name>Evening Run</name><type>{kind}</type><trkseg>{points}</trkseg></trk></gpx>"
    ).encode()


def test_a_tcx_run_with_a_lap_missing_heart_rate() -> None:
    result = read_activity_file(tcx([(5, 150, 80), (3, None, 85)]), "run.tcx", CTX)
    assert (result.kind, result.status) == ("tcx", "ok")
    m = pl.from_arrow(result.tables["minutes"])
    assert m.height == 8
    assert m["heart_rate_bpm"].to_list() == [150.0] * 5 + [None] * 3
    # 12 points of 5 s at 80 strides/min = 160 steps per minute; the last point stands for 1 s
    assert m["steps"].to_list()[:5] == [160] * 5 and m["steps"].to_list()[5:7] == [170, 170]
    assert set(m["utc_offset_minutes"]) == {60} and set(m["device"]) == {"Polar Vantage V2"}
    s = pl.from_arrow(result.tables["sessions"])
    assert s.select(
        "sport", "start_utc", "end_utc", "timer_seconds", "avg_heart_rate_bpm", "max_heart_rate_bpm"
    ).rows() == [("Running", START, START + timedelta(minutes=8), 480.0, 150.0, 160.0)]


def test_a_gpx_track_with_trackpoint_extension_heart_rate_and_cadence() -> None:
    result = read_activity_file(gpx(4, 141, 84), "evening.gpx", CTX)
    assert (result.kind, result.status) == ("gpx", "ok")
    m = pl.from_arrow(result.tables["minutes"])
    assert m["heart_rate_bpm"].to_list() == [141.0] * 4
    assert m["steps"].to_list()[:3] == [168] * 3
    s = pl.from_arrow(result.tables["sessions"])
    assert s.select("sport", "start_utc", "avg_heart_rate_bpm", "max_heart_rate_bpm").rows() == [
        ("running", START, 141.0, 141.0)
    ]


@pytest.mark.parametrize("kind", ["tcx", "gpx"])
def test_an_activity_across_midnight_and_the_autumn_dst_change(kind: str) -> None:
    # Oslo, night of 24-25 October 2026: 23:40 CEST to 02:40 CET is 4 real hours
    # (21:40 to 01:40 UTC); local midnight is 22:00 UTC, the clocks go back at 01:00 UTC.
    start = datetime(2026, 10, 24, 21, 40, tzinfo=UTC)
    data = tcx([(240, 140, 80)], start=start) if kind == "tcx" else gpx(240, 140, 80, start=start)
    result = read_activity_file(data, f"night.{kind}", CTX)
    assert result.status == "ok", result.reason
    m = pl.from_arrow(result.tables["minutes"])
    assert m.height == 240
    assert m["minute_utc"].min() == start and m["minute_utc"].max() == start + timedelta(
        minutes=239
    )
    summer = m.filter(pl.col("minute_utc") < datetime(2026, 10, 25, 1, 0, tzinfo=UTC))
    assert summer.height == 200 and set(summer["utc_offset_minutes"]) == {120}
    winter = m.filter(pl.col("minute_utc") >= datetime(2026, 10, 25, 1, 0, tzinfo=UTC))
    assert winter.height == 40 and set(winter["utc_offset_minutes"]) == {60}
    local = pl.col("minute_utc") + pl.duration(minutes=pl.col("utc_offset_minutes"))
    days = m.group_by(local.dt.date().alias("day")).len().sort("day")
    assert days.rows() == [
        (datetime(2026, 10, 24).date(), 20),
        (datetime(2026, 10, 25).date(), 220),
    ]
    assert set(m["heart_rate_bpm"]) == {140.0}
    s = pl.from_arrow(result.tables["sessions"])
    assert s["start_utc"].to_list() == [start]


def test_cycling_cadence_is_not_steps() -> None:
    m = pl.from_arrow(
        read_activity_file(gpx(2, 130, 90, "cycling"), "ride.gpx", CTX).tables["minutes"]
    )
    assert m["steps"].null_count() == m.height and m["heart_rate_bpm"].to_list() == [130.0, 130.0]


def test_foreign_damaged_and_unsafe_xml() -> None:
    foreign = read_activity_file(b"<?xml version='1.0'?><HealthData/>", "x.gpx", CTX)
    assert foreign.status == "quarantined" and "not a TCX or GPX file" in (foreign.reason or "")
    whole = tcx([(5, 150, 80)])
    cut = read_activity_file(whole[: len(whole) // 2], "cut.tcx", CTX)
    assert cut.status == "partial" and cut.tables["minutes"].num_rows >= 2
    assert read_activity_file(b"\x89PNG\r\n\x1a\n", "photo.gpx", CTX).status == "quarantined"
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE gpx [{entities}]><gpx><trk><name>&lol9;</name></trk></gpx>'
    )
    refused = read_activity_file(bomb.encode(), "bomb.gpx", CTX)
    assert refused.status == "quarantined" and "declares entities" in (refused.reason or "")
    xxe = b'<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "http://example.invalid/x.dtd"><gpx/>'
    assert read_activity_file(xxe, "xxe.gpx", CTX).status == "quarantined"


@pytest.mark.parametrize("seed", range(40))
def test_fuzzed_files_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(tcx([(2, 150, 80), (1, None, 80)]) if seed % 2 else gpx(2, 140, 80))
    for _ in range(rng.randint(1, 25)):
        i = rng.randrange(len(data))
        if rng.random() < 0.5:
            data[i] = rng.randrange(256)
        else:
            del data[i : i + rng.randint(1, 40)]
    result = read_activity_file(bytes(data), "f.tcx" if seed % 2 else "f.gpx", CTX)
    assert result.status in {"ok", "partial", "quarantined", "skipped"}
    assert result.status == "ok" or result.reason


def test_loose_files_through_the_pipeline_and_the_damaged_one_is_held(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "run.tcx").write_bytes(tcx([(5, 150, 80)]))
    (folder / "evening.gpx").write_bytes(gpx(3, 140, 84))
    (folder / "broken.gpx").write_bytes(b"<gpx><trk><trkseg><trkpt")
    init_study(tmp_path / "study")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["Europe/Oslo"]}),
        tmp_path / "study" / "roster.csv",
    )
    study = open_study(tmp_path / "study")
    report = Ingestor(study).ingest("P01", [folder])
    got = {Path(o.path).name: (o.kind, o.status, o.rows.get("minutes", 0)) for o in report.outcomes}
    assert got["run.tcx"] == ("tcx", "ok", 5)
    assert got["evening.gpx"] == ("gpx", "ok", 3)
    assert got["broken.gpx"][:2] == ("gpx", "quarantined")
    assert (study.paths.store / "quarantine").exists()
    lake = Ingestor(study).lake.scan("sessions").collect()
    assert sorted(lake["sport"].to_list()) == ["Running", "running"]
