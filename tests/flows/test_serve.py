"""The served nightly deployment carries the schedule of study.toml."""

from __future__ import annotations

from pathlib import Path

from config import init_study
from flows.serve import build_deployment


def schedule_of_deployment(study_dir: Path) -> tuple[str, str, dict[str, object]]:
    deployment = build_deployment(str(study_dir))
    [entry] = deployment.schedules or []
    return entry.schedule.cron, entry.schedule.timezone, deployment.parameters  # type: ignore[union-attr]


def test_the_default_schedule_is_three_in_the_morning_in_the_study_zone(tmp_path: Path) -> None:
    study = init_study(tmp_path / "oslo")
    toml = study.paths.study_toml
    toml.write_text(toml.read_text().replace('timezone = "UTC"', 'timezone = "Europe/Oslo"', 1))

    cron, zone, parameters = schedule_of_deployment(study.root)

    assert (cron, zone) == ("0 3 * * *", "Europe/Oslo")
    assert parameters == {"study_dir": str(study.root.resolve())}


def test_the_configured_cron_and_zone_are_used(tmp_path: Path) -> None:
    study = init_study(tmp_path / "nyc")
    toml = study.paths.study_toml
    text = toml.read_text().replace('cron = "0 3 * * *"', 'cron = "30 1 * * 1-5"', 1)
    text = text.replace('# timezone = "Europe/Oslo"', 'timezone = "America/New_York"', 1)
    toml.write_text(text)

    cron, zone, _ = schedule_of_deployment(study.root)

    assert (cron, zone) == ("30 1 * * 1-5", "America/New_York")
    deployment = build_deployment(str(study.root))
    assert deployment.name == "irisin-nightly-nyc"
    assert deployment.entrypoint == "flows/nightly.py:nightly_flow"
    assert deployment.concurrency_limit == 1


def test_prefect_yaml_describes_the_same_nightly_deployment(tmp_path: Path) -> None:
    import yaml

    repo = Path(__file__).resolve().parents[2]
    specs = {
        d["name"]: d for d in yaml.safe_load((repo / "prefect.yaml").read_text())["deployments"]
    }
    assert set(specs) == {"irisin-nightly", "irisin-digest"}
    spec = specs["irisin-nightly"]
    study = init_study(tmp_path / "default")
    served = build_deployment(str(study.root))
    [entry] = served.schedules or []

    assert spec["entrypoint"] == served.entrypoint
    assert [s["cron"] for s in spec["schedules"]] == [entry.schedule.cron]  # type: ignore[union-attr]
    assert spec["concurrency_limit"] == served.concurrency_limit == 1
    assert set(spec["parameters"]) == set(served.parameters) == {"study_dir"}
    digest = specs["irisin-digest"]
    assert digest["entrypoint"] == "flows/digest.py:digest_flow"
    assert [s["cron"] for s in digest["schedules"]] == [study.config.digest.cron]


def test_the_digest_is_served_on_its_own_cron_once_it_has_recipients(tmp_path: Path) -> None:
    from flows.serve import build_digest_deployment

    study = init_study(tmp_path / "oslo")
    assert build_digest_deployment(str(study.root)) is None  # no recipients yet: nothing to send
    toml = study.paths.study_toml
    text = toml.read_text().replace('timezone = "UTC"', 'timezone = "Europe/Oslo"', 1)
    text = text.replace("recipients = []", 'recipients = ["staff@example.org"]', 1)
    text = text.replace('cron = "0 7 * * *"', 'cron = "15 8 * * 1-5"', 1)
    toml.write_text(text.replace('sender = ""', 'sender = "irisin@example.org"', 1))
    deployment = build_digest_deployment(str(study.root))
    assert deployment is not None
    [entry] = deployment.schedules or []
    assert (entry.schedule.cron, entry.schedule.timezone) == ("15 8 * * 1-5", "Europe/Oslo")  # type: ignore[union-attr]
    assert deployment.name == "irisin-digest-oslo"
    assert deployment.entrypoint == "flows/digest.py:digest_flow"
    assert (
        build_deployment(str(study.root)).name == "irisin-nightly-oslo"
    )  # the nightly keeps its own
