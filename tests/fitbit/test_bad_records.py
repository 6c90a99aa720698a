"""A bad value costs only itself: literal cases of issue 15 item 1, through the real ingest pipeline.

Each case damages one record (or one file) of a real-shaped export and checks
that every other record lands, that the damage is counted in the file's
notes, and that no sibling file is quarantined because of it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from config.layout import init_study, open_study
from config.roster import write_roster
from ingest.pipeline import FileOutcome, Ingestor
from ingest.salvage import Dropped
from pipeline.demo.fitbit_files import write_fitabase, write_takeout_csv, write_takeout_json
from tests.fitbit.helpers import worn_truth

TZ = "Australia/Brisbane"
JSON_DIR = ("Takeout", "Fitbit", "Global Export Data")
CSV_DIR = ("Takeout", "Fitbit", "Physical Activity_GoogleData")


@pytest.fixture()
def ingestor(tmp_path: Path) -> Ingestor:
    init_study(tmp_path / "study")
    roster = pl.DataFrame(
        {
            "participant_id": ["P01", "P02"],
            "timezone": [TZ, TZ],
            "fitabase_id": [None, "1624580081"],
        }
    )
    write_roster(roster, tmp_path / "study" / "roster.csv")
    return Ingestor(open_study(tmp_path / "study"))


@pytest.fixture(scope="module")
def truth() -> pl.DataFrame:
    return worn_truth(datetime(2026, 3, 2), 3, TZ, hours=(6, 22))


def _by_name(outcomes: list[FileOutcome]) -> dict[str, FileOutcome]:
    return {o.path.rsplit("/", 1)[-1]: o for o in outcomes}


def _notes(ingestor: Ingestor, name: str) -> dict[str, object]:
    manifest = ingestor.lake.manifest().filter(pl.col("path").str.ends_with(name))
    return json.loads(manifest["notes"][0] or "{}")  # type: ignore[no-any-return]


def _steps_file(root: Path) -> Path:
    (steps,) = root.joinpath(*JSON_DIR).glob("steps-*.json")
    return steps


def test_takeout_steps_file_holding_an_empty_array_is_ok_and_its_siblings_land(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    _steps_file(root).write_text("[]")
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert len(by_name) == 8
    assert {o.status for o in by_name.values()} == {"ok"}
    assert by_name["steps-2026-03-02.json"].rows == {}
    minutes = ingestor.lake.scan("minutes").collect()
    assert minutes.filter(pl.col("heart_rate_bpm").is_not_null()).height == truth.height


@pytest.mark.parametrize("bad", ["1e308", "12345678901234567890"])
def test_one_impossible_steps_value_costs_only_its_record(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame, bad: str
) -> None:
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    steps = _steps_file(root)
    text = steps.read_text()
    records = len(re.findall('"dateTime"', text))
    steps.write_text(re.sub(r'"value" : "\d+"', f'"value" : "{bad}"', text, count=1))
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert {o.status for o in by_name.values()} == {"ok"}
    assert by_name["steps-2026-03-02.json"].rows == {"minutes": records - 1}
    notes = _notes(ingestor, "steps-2026-03-02.json")
    assert notes["records_dropped"] == 1 and bad[:6] in str(notes["records_dropped_examples"])


def test_a_huge_heart_rate_sample_costs_only_itself(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    (hr,) = root.joinpath(*JSON_DIR).glob("heart_rate-2026-03-02.json")
    hr.write_text(re.sub(r'"bpm" : \d+', '"bpm" : 1e308', hr.read_text(), count=1))
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert {o.status for o in by_name.values()} == {"ok"}
    minutes = ingestor.lake.scan("minutes").collect()
    assert minutes.filter(pl.col("heart_rate_bpm").is_not_null()).height == truth.height
    assert minutes["heart_rate_bpm"].max() < 250  # type: ignore[operator]
    assert _notes(ingestor, "heart_rate-2026-03-02.json")["records_dropped"] == 1


@pytest.mark.slow
def test_fifty_unreadable_records_of_43200_drop_only_those(
    tmp_path: Path, ingestor: Ingestor
) -> None:
    month = worn_truth(datetime(2026, 3, 1), 30, "UTC", seed=3)
    root = write_takeout_json(month, tmp_path / "export", "UTC")
    steps = next(p for p in root.joinpath(*JSON_DIR).glob("steps-*.json"))
    records = json.loads(steps.read_text())
    assert len(records) == 43_200
    for i in range(0, 43_200, 864):
        records[i]["value"] = "n/a" if i % 2 else "-"
    steps.write_text(json.dumps(records, indent=1))
    init_study(tmp_path / "utc")
    write_roster(
        pl.DataFrame({"participant_id": ["P01"], "timezone": ["UTC"]}),
        tmp_path / "utc" / "roster.csv",
    )
    utc = Ingestor(open_study(tmp_path / "utc"))
    by_name = _by_name(utc.ingest("P01", [root]).outcomes)
    assert by_name[steps.name].status == "ok" and by_name[steps.name].rows == {"minutes": 43_150}
    notes = _notes(utc, steps.name)
    assert notes["records_dropped"] == 50 and len(notes["records_dropped_examples"]) == 5  # type: ignore[arg-type]


def test_a_byte_order_mark_costs_no_takeout_json_file(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_takeout_json(truth, tmp_path / "export", TZ)
    for p in root.joinpath(*JSON_DIR).glob("*.json"):
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert len(by_name) == 8 and {o.status for o in by_name.values()} == {"ok"}
    minutes = ingestor.lake.scan("minutes").collect()
    assert minutes.filter(pl.col("heart_rate_bpm").is_not_null()).height == truth.height
    assert (
        ingestor.lake.scan("daily_totals").collect().height == 4 * 3
    )  # four daily series, three days


def test_takeout_csv_with_an_impossible_value_an_empty_file_and_a_header_only_file(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_takeout_csv(truth, tmp_path / "export", TZ)
    folder = root.joinpath(*CSV_DIR)
    (steps,) = folder.glob("steps_*.csv")
    lines = steps.read_text().splitlines()
    lines[10] = lines[10].rsplit(",", 1)[0] + ",1e308"
    steps.write_text("\n".join(lines) + "\n")
    heart = sorted(folder.glob("heart_rate_*.csv"))
    heart[0].write_text("")
    heart[1].write_text(heart[1].read_text().splitlines()[0] + "\n")
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert {o.status for o in by_name.values()} == {"ok"}, {n: o.reason for n, o in by_name.items()}
    assert by_name[heart[0].name].rows == {} and by_name[heart[1].name].rows == {}
    assert by_name[steps.name].rows == {"minutes": len(lines) - 2}
    notes = _notes(ingestor, steps.name)
    assert notes["records_dropped"] == 1 and "1e308" in str(notes["records_dropped_examples"])


def test_takeout_csv_with_a_ragged_line_and_stray_bytes_keeps_the_other_lines(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_takeout_csv(truth, tmp_path / "export", TZ)
    (steps,) = root.joinpath(*CSV_DIR).glob("steps_*.csv")
    lines = steps.read_bytes().splitlines()
    lines[5] = lines[5] + b",extra,fields"
    lines[9] = b"\xff\xfe\x00garbage"
    steps.write_bytes(b"\n".join(lines) + b"\n")
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert by_name[steps.name].status == "ok"
    assert by_name[steps.name].rows == {"minutes": len(lines) - 3}
    assert _notes(ingestor, steps.name)["records_dropped"] == 2


def test_takeout_csv_cut_mid_record_is_partial_with_the_lines_before(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_takeout_csv(truth, tmp_path / "export", TZ)
    (steps,) = root.joinpath(*CSV_DIR).glob("steps_*.csv")
    data = steps.read_bytes()
    cut_at = data.index(b"\n", 2000) + 12  # 12 bytes into a line: inside its timestamp
    steps.write_bytes(data[:cut_at])
    whole_lines = data[:cut_at].count(b"\n") - 1
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    assert by_name[steps.name].status == "partial" and "ends mid-record" in (
        by_name[steps.name].reason or ""
    )
    assert by_name[steps.name].rows == {"minutes": whole_lines}
    assert {o.status for n, o in by_name.items() if n != steps.name} == {"ok"}


def test_fitabase_impossible_values_cost_only_themselves(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame
) -> None:
    root = write_fitabase({"1624580081": truth}, tmp_path / "fab", {"1624580081": TZ})
    folder = next(p.parent for p in root.rglob("minuteStepsNarrow_merged.csv"))
    steps = folder / "minuteStepsNarrow_merged.csv"
    lines = steps.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",12345678901234567890"
    steps.write_text("\n".join(lines) + "\n")
    daily = folder / "dailyActivity_merged.csv"
    dlines = daily.read_text().splitlines()
    header = dlines[0].split(",")
    cells = dlines[1].split(",")
    cells[header.index("TotalSteps")] = "1e308"
    dlines[1] = ",".join(cells)
    daily.write_text("\n".join(dlines) + "\n")
    by_name = _by_name(ingestor.ingest("P02", [root]).outcomes)
    assert by_name["minuteStepsNarrow_merged.csv"].status == "ok"
    assert by_name["minuteStepsNarrow_merged.csv"].rows == {"minutes": len(lines) - 2}
    assert by_name["dailyActivity_merged.csv"].status == "ok"
    assert by_name["dailyActivity_merged.csv"].rows == {"daily_totals": len(dlines) - 1}
    assert "quarantined" not in {o.status for o in by_name.values()}
    assert _notes(ingestor, "minuteStepsNarrow_merged.csv")["records_dropped"] == 1
    assert _notes(ingestor, "dailyActivity_merged.csv")["values_unreadable_read_as_null"] == 1
    activity = by_name["dailyActivity_merged.csv"].file_id
    days = ingestor.lake.scan("daily_totals").filter(pl.col("file_id") == activity).collect()
    assert (
        days.height == 3
        and days["steps"].null_count() == 1
        and days["moderate_minutes"].null_count() == 0
    )


def test_a_reader_failure_in_one_file_does_not_quarantine_its_siblings(
    tmp_path: Path, ingestor: Ingestor, truth: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.fitbit.csv_family as csv_family

    real = csv_family._minutes_of

    def flaky(
        series: str, text: pl.DataFrame, notes: dict[str, object], impossible: Dropped
    ) -> pl.DataFrame:
        if series == "steps":
            raise ValueError("window shape cannot be larger than input array shape")
        return real(series, text, notes, impossible)

    monkeypatch.setattr(csv_family, "_minutes_of", flaky)
    root = write_takeout_csv(truth, tmp_path / "export", TZ)
    by_name = _by_name(ingestor.ingest("P01", [root]).outcomes)
    bad = [n for n, o in by_name.items() if o.status == "quarantined"]
    assert bad and all(n.startswith("steps_") for n in bad)
    assert "reader failed: ValueError" in (by_name[bad[0]].reason or "")
    assert {o.status for n, o in by_name.items() if n not in bad} == {"ok"}
