"""Fitbit exports through the real ingest pipeline: manifest rows, lake rows, clock notes."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import Ingestor
from pipeline.demo.fitbit_files import write_fitabase, write_takeout_json
from tests.fitbit.helpers import worn_truth, zip_folder

TZ = "Australia/Brisbane"


@pytest.fixture()
def ingestor(tmp_path: Path) -> Ingestor:
    init_study(tmp_path / "study")
    roster = pl.DataFrame(
        {
            "participant_id": ["P04", "P06"],
            "timezone": [TZ, TZ],
            "fitabase_id": [None, "1624580081"],
        }
    )
    write_roster(roster, tmp_path / "study" / "roster.csv")
    return Ingestor(open_study(tmp_path / "study"))


def test_takeout_zip_lands_minutes_and_quarantines_its_damage(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(6, 22))
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    (root / "Takeout" / "archive_browser.html").write_text("<html></html>")
    damaged = root / "Takeout" / "Fitbit" / "Global Export Data" / "heart_rate-2026-03-04.json"
    damaged.write_bytes(damaged.read_bytes()[:2000])
    archive = zip_folder(root, tmp_path / "takeout.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../escape/evil.json", b"[]")

    report = ingestor.ingest("P04", [archive])
    by_name = {o.path.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert by_name["evil.json"].status == "quarantined"  # the member escaping its folder
    cut = by_name[
        "heart_rate-2026-03-04.json"
    ]  # the truncated member keeps its whole minutes before the cut
    assert cut.status == "partial" and "ends mid-record" in (cut.reason or "")
    assert 0 < cut.rows["minutes"] < 60
    assert by_name["archive_browser.html"].status == "skipped"
    assert by_name["heart_rate-2026-03-02.json"].status == "ok"
    assert by_name["sedentary_minutes-2026-03-02.json"].rows == {"daily_totals": 3}

    minutes = ingestor.lake.scan("minutes").collect()
    hr = minutes.filter(pl.col("heart_rate_bpm").is_not_null())
    local_day = pl.col("minute_utc").dt.convert_time_zone(TZ).dt.date()
    assert (
        hr.height
        == truth.filter(local_day != datetime(2026, 3, 4).date()).height + cut.rows["minutes"]
    )
    assert set(minutes["participant_id"]) == {"P04"} and set(minutes["source"]) == {
        "fitbit_takeout"
    }
    manifest = ingestor.lake.manifest()
    notes = json.loads(
        manifest.filter(pl.col("path").str.ends_with("heart_rate-2026-03-02.json"))["notes"][0]
    )
    assert notes["clock"] == "utc" and notes["timezone"] == TZ


def test_takeout_folder_with_truncated_json_lands_the_rest(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    truth = worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(6, 22))
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    damaged = root / "Takeout" / "Fitbit" / "Global Export Data" / "heart_rate-2026-03-04.json"
    damaged.write_bytes(b'[{"dateTime": "03/03/26 1')

    report = ingestor.ingest("P04", [root])
    by_name = {o.path.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert by_name["heart_rate-2026-03-04.json"].status == "quarantined"
    assert "not valid JSON" in (by_name["heart_rate-2026-03-04.json"].reason or "")
    assert {o.status for n, o in by_name.items() if n != "heart_rate-2026-03-04.json"} == {"ok"}
    hr = ingestor.lake.scan("minutes").collect().filter(pl.col("heart_rate_bpm").is_not_null())
    expected = truth.filter(
        pl.col("minute_utc").dt.convert_time_zone(TZ).dt.date() != datetime(2026, 3, 4).date()
    )
    assert hr.height == expected.height


def test_fitabase_export_maps_ids_through_the_roster(tmp_path: Path, ingestor: Ingestor) -> None:
    truths = {
        "1624580081": worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(7, 21), seed=3),
        "9999999999": worn_truth(datetime(2026, 3, 2), 2, TZ, hours=(7, 21), seed=4),
    }
    root = write_fitabase(truths, tmp_path / "fab", {k: TZ for k in truths})
    report = ingestor.ingest("P06", [root])
    statuses = {o.path.rsplit("/", 1)[-1]: (o.status, o.reason) for o in report.outcomes}
    for name, (status, reason) in statuses.items():
        assert status == "partial", name
        assert "9999999999" in (reason or "")
    minutes = ingestor.lake.scan("minutes").collect()
    assert set(minutes["participant_id"]) == {"P06"}
    intensity = minutes.filter(pl.col("intensity").is_not_null()).select("minute_utc", "intensity")
    got = truths["1624580081"].join(intensity, on="minute_utc", how="left", suffix="_got")
    assert (got["intensity_got"] == got["intensity"]).all()


def test_account_profile_gives_the_lake_a_birth_year_and_heart_rate_its_maximum(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    from features.classify import heart_rate_limits

    truth = worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(6, 22))
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    profile = root / "Takeout" / "Fitbit" / "Your Profile" / "Profile.csv"
    profile.parent.mkdir(parents=True)
    profile.write_text(
        "id,full_name,email_address,date_of_birth,timezone\n"
        "AB1,Demo Person,demo@example.org,1976-08-09,Australia/Brisbane\n",
        encoding="utf-8",
    )
    raw = profile.read_bytes()
    report = ingestor.ingest("P04", [zip_folder(root, tmp_path / "takeout.zip")])
    by_name = {o.path.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert (by_name["Profile.csv"].status, by_name["Profile.csv"].rows) == ("ok", {"profiles": 1})
    assert profile.read_bytes() == raw  # the raw file is left as it was

    profiles = ingestor.lake.scan("profiles").collect()
    assert profiles.select("participant_id", "source", "birth_year").rows() == [
        ("P04", "fitbit_takeout", 1976)
    ]
    assert "1976-08-09" not in str(profiles.rows())
    roster = pl.DataFrame(
        {
            "participant_id": ["P04"],
            "timezone": [TZ],
            "birth_year": [None],
            "resting_hr": [None],
            "max_hr": [None],
        },
        schema={
            "participant_id": pl.String,
            "timezone": pl.String,
            "birth_year": pl.Int32,
            "resting_hr": pl.Float64,
            "max_hr": pl.Float64,
        },
    )
    limits = heart_rate_limits(
        ingestor.lake.scan("profiles"),
        roster,
        ingestor.lake.scan("daily_totals"),
        ingestor.lake.scan("minutes"),
    ).collect()
    row = limits.row(0, named=True)
    assert row["tanaka_intercept_bpm"] == 208 + 0.7 * 1976  # 208 - 0.7 x 50 = 173 in 2026
    # No resting HR in this export: it is estimated from the minutes, the weaker of the pair.
    assert (row["max_hr"], row["hr_params"]) == (None, "estimated")
