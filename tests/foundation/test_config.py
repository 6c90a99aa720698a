"""study.toml and roster.csv: defaults, and errors that name file, key, value and rule."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from config import ConfigError, init_study, open_study, parse_study_config
from config.layout import default_study_toml
from config.roster import load_roster


def test_default_toml_matches_model_defaults() -> None:
    cfg = parse_study_config(default_study_toml())
    assert cfg.scoring.threshold_minutes_per_week == 60
    assert cfg.wear.min_wear_minutes_per_day == 600
    assert cfg.wear.min_valid_days_per_week == 4
    assert cfg.intensity.methods == ["device", "heart_rate", "cadence", "mets"]
    # 60 / ln(20) gives 95 % benefit at one hour
    assert cfg.scoring.benefit_tau_minutes == pytest.approx(20.03, abs=0.01)


def test_hash_changes_with_threshold() -> None:
    a = parse_study_config("")
    b = parse_study_config("[scoring]\nthreshold_minutes_per_week = 90\n")
    assert a.hash() != b.hash()
    assert a.hash() == parse_study_config("").hash()


@pytest.mark.parametrize(
    "text",
    [
        "[ingest]\nmax_concurrent_files = 8\n",
        "[ingest]\nbackfill_batch_participants = 3\n",
        '[schedule]\ncron = "0 2 * * *"\n',
        "[dashboard]\nport = 8600\n",
        '[digest]\nrecipients = ["staff@example.org"]\n',
    ],
)
def test_how_and_when_the_work_runs_leaves_the_hash_alone(text: str) -> None:
    """Readers at once, batch size, schedule, dashboard port, digest mail: the same results, the same hash."""
    assert parse_study_config(text).hash() == parse_study_config("").hash()


@pytest.mark.parametrize(
    "text",
    [
        "[ingest]\narchive_max_depth = 1\n",  # what is read
        "[alerts]\nno_data_days = 5\n",  # which alerts are raised
        "[wear]\nmin_wear_minutes_per_day = 500\n",
    ],
)
def test_settings_that_change_what_is_read_or_raised_change_the_hash(text: str) -> None:
    assert parse_study_config(text).hash() != parse_study_config("").hash()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[wear]\nmin_wear_minutes_per_day = -5\n",
            "study.toml: [wear] min_wear_minutes_per_day = -5: Input should be greater than or equal to 0",
        ),
        (
            "[scoring]\nthreshold_minutes_per_week = -1\n",
            "study.toml: [scoring] threshold_minutes_per_week = -1: Input should be greater than or equal to 1",
        ),
        ("[wear]\nrul = 'x'\n", "study.toml: [wear] rul = 'x': unknown key"),
        (
            "[study]\ntimezone = 'Mars/Olympus'\n",
            "study.toml: [study] timezone = 'Mars/Olympus': unknown IANA time zone 'Mars/Olympus' (e.g. 'Europe/Oslo')",
        ),
        (
            "[intensity]\nmethods = ['device', 'vibes']\n",
            "study.toml: [intensity] methods.1 = None: Input should be 'device', 'heart_rate', 'cadence' or 'mets'",
        ),
        (
            "[intensity]\nmets_moderate = 7.0\n",
            "study.toml: [intensity] mets_moderate = 7.0 must be below mets_vigorous = 6.0 (MET)",
        ),
        ("[wear\n", "study.toml: not valid TOML"),
    ],
)
def test_bad_study_toml_messages(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_study_config(text, Path("study.toml"))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (
            "participant_id\nP1\n",
            "roster.csv: missing column(s) ['timezone']; found ['participant_id']",
        ),
        (
            "participant_id,timezone\nP1,Europe/Osloo\n",
            "roster.csv: column 'timezone', participant 'P1': unknown IANA time zone 'Europe/Osloo'",
        ),
        (
            "participant_id,timezone,max_hr\nP1,UTC,500\n",
            "roster.csv: column 'max_hr', participant 'P1': '500' is not a number between 80 and 240",
        ),
        (
            "participant_id,timezone\nP1,UTC\nP1,UTC\n",
            "roster.csv: participant_id listed more than once: ['P1']",
        ),
        (
            "participant_id,timezone,start_date\nP1,UTC,03/02/2026\n",
            "roster.csv: column 'start_date', participant 'P1': '03/02/2026' is not an ISO date",
        ),
        (
            "participant_id,timezone,shoe_size\nP1,UTC,44\n",
            "roster.csv: unknown column(s) ['shoe_size']",
        ),
    ],
)
def test_bad_roster_messages(tmp_path: Path, csv: str, message: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(csv)
    with pytest.raises(ConfigError) as err:
        load_roster(path)
    assert str(err.value).startswith(f"{path}: {message.removeprefix('roster.csv: ')}")


def test_roster_types(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        "participant_id,timezone,birth_year,resting_hr,start_date\nP1,Europe/Oslo,1980,58,2026-03-02\nP2,UTC,,,\n"
    )
    roster = load_roster(path)
    assert roster["birth_year"].to_list() == [1980, None]
    assert roster["resting_hr"].to_list() == [58.0, None]
    assert roster["start_date"].dtype == pl.Date
    assert roster.columns[:2] == ["participant_id", "timezone"]


def test_init_then_open(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s")
    assert (tmp_path / "s" / "inbox").is_dir()
    assert study.roster.height == 0
    again = open_study(tmp_path / "s")
    assert again.config == study.config
    assert again.timezone_of("nobody") == "UTC"
