"""The whole store on S3-compatible object storage (issue 17 item 4): ``[store] url = "s3://..."``.

A ``moto`` server started here on 127.0.0.1 stands in for S3; the study
reaches it only through the standard ``AWS_*`` environment variables. The
same commands on a copy of a small demo study (three participants: FIT with
TCX, Fitbit Takeout JSON, a Garmin Connect export) run once with the store
in the study folder and once on object storage, and every table must come
out equal: the warehouse's (lake and derived), the derived Parquet tables
and the export. The study lock there is a lock object with a conditional
write; two writers are tested against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from config import open_study
from config.errors import ConfigError
from config.study import parse_study_config
from pipeline.demo.cohort import COHORT
from pipeline.demo.generate import generate_demo
from pipeline.lock import StudyBusyError, holds_lock, study_lock
from store.derived import DerivedStore
from store.lake import MANIFEST, Lake
from store.object_lock import ObjectLock
from tests.flows.conftest import DemoCopy, copy_study, export_columns
from tests.flows.test_backfill import configure, kill, normalized, start_backfill, wait_until

moto_server = pytest.importorskip(
    "moto.server", reason="moto (dev extra) runs the local S3 endpoint"
)
boto3 = pytest.importorskip("boto3", reason="boto3 creates the test bucket")

BUCKET = "irisin-study"
SUBSET = ("P02", "P04", "P09")
"""FIT monitoring with TCX activities, Fitbit Takeout JSON, a Garmin Connect export."""
runner = CliRunner()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[dict[str, str]]:
    """A local S3 endpoint with the test bucket; yields the ``AWS_*`` environment that reaches it."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "irisin-test",
        "AWS_SECRET_ACCESS_KEY": "irisin-test",
        "AWS_REGION": "us-east-1",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="irisin-test",
        aws_secret_access_key="irisin-test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield env
    finally:
        server.stop()


@pytest.fixture
def s3_env(endpoint: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in endpoint.items():
        monkeypatch.setenv(name, value)
    return endpoint


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoCopy:
    cohort = tuple(p for p in COHORT if p.participant_id in SUBSET)
    demo = generate_demo(tmp_path_factory.mktemp("s3-demo") / "demo", cohort=cohort)
    return DemoCopy(demo.root, demo.expected_weekly)


def on_object_storage(root: Path, prefix: str) -> str:
    """Point the study's store at ``s3://BUCKET/prefix``; returns the URL."""
    url = f"s3://{BUCKET}/{prefix}"
    toml = root / "study.toml"
    text = toml.read_text(encoding="utf-8")
    assert text.count("\n[store]\n") == 1, "the default study.toml has a [store] section"
    toml.write_text(text.replace("\n[store]\n", f'\n[store]\nurl = "{url}"\n'), encoding="utf-8")
    return url


def objects_under(url: str) -> list[str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def derived_tables(location: str) -> dict[str, pl.DataFrame]:
    """Every derived table but the runs log (it holds each run's own id and times), rows sorted."""
    store = DerivedStore(location)
    out = {}
    for name in store.tables():
        if name == "runs":
            continue
        frame = store.read(name)
        assert frame is not None
        out[name] = frame.sort(frame.columns)
    return out


def cli(*args: str) -> str:
    from irisin.cli import app

    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


# -- configuration ---------------------------------------------------------------


def test_the_store_url_is_checked_in_study_toml_and_never_holds_credentials() -> None:
    assert parse_study_config("").store.url is None
    cfg = parse_study_config('[store]\nurl = "s3://my-bucket/irisin//study-1/"\n')
    assert cfg.store.url == "s3://my-bucket/irisin/study-1"
    assert cfg.hash() == parse_study_config("").hash(), (
        "moving the store must not mark scores stale"
    )
    for bad, said in (
        ("gs://bucket/x", "expected 's3://bucket/prefix'"),
        ("s3://Bad_Bucket/x", "is not an S3 bucket name"),
        ("s3://key:secret@bucket/x", "credentials and options never go in study.toml"),
        ("s3://bucket/../x", "may not contain"),
    ):
        with pytest.raises(ConfigError, match=said) as raised:
            parse_study_config(f'[store]\nurl = "{bad}"\n', Path("study.toml"))
        assert "study.toml: [store] url" in str(raised.value)


def test_a_store_on_s3_without_its_environment_is_refused_naming_what_is_missing(
    small_demo: DemoCopy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_study(small_demo.root, tmp_path / "demo")
    on_object_storage(root, "no-env")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(ConfigError) as raised:
        open_study(root)
    message = str(raised.value)
    assert "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY in the environment" in message
    assert "AWS_REGION" not in message.split("needs")[1].split("in the environment")[0]
    from irisin.cli import app

    result = runner.invoke(app, ["check", "--study", str(root)])
    assert result.exit_code == 2 and "AWS_SECRET_ACCESS_KEY" in result.output


def test_irisin_check_reports_the_store_and_a_missing_bucket(
    small_demo: DemoCopy, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    local = copy_study(small_demo.root, tmp_path / "local")
    assert f"store: {local / 'store'}" in cli("check", "--study", str(local))
    remote = copy_study(small_demo.root, tmp_path / "remote")
    url = on_object_storage(remote, "checked")
    said = cli("check", "--study", str(remote))
    assert f"store: {url} at {s3_env['AWS_ENDPOINT_URL']} (region us-east-1)" in said
    toml = remote / "study.toml"
    toml.write_text(toml.read_text().replace(BUCKET, "no-such-bucket"), encoding="utf-8")
    from irisin.cli import app

    result = runner.invoke(app, ["check", "--study", str(remote)])
    assert result.exit_code == 2 and "no bucket 'no-such-bucket' there" in result.output


# -- runs ------------------------------------------------------------------------


@pytest.mark.slow  # about 40 s: the same commands run twice, on disk and on S3
@pytest.mark.usefixtures("prefect_api")
def test_ingest_nightly_and_export_on_s3_equal_the_same_commands_on_disk(
    small_demo: DemoCopy, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    local = copy_study(small_demo.root, tmp_path / "local")
    remote = copy_study(small_demo.root, tmp_path / "remote")
    url = on_object_storage(remote, "nightly")
    for root in (local, remote):
        # a first export by hand, then the nightly picks up the rest of the inbox
        cli("ingest", str(root / "inbox" / "P02"), "--study", str(root), "-p", "P02")
        cli("nightly", "--study", str(root))
        cli("export", "weekly", "--study", str(root), "--out", str(root / "weekly.csv"))
        cli("export", "minutes", "--study", str(root), "--out", str(root / "minutes.parquet"))

    # nothing of the store was written in the study folder, everything is in the bucket
    assert not (remote / "store" / "lake").exists() and not (remote / "store" / "derived").exists()
    assert not (remote / "runs").exists() or not any((remote / "runs").iterdir())
    keys = objects_under(url)
    assert any(k.endswith("/run_info.json") for k in keys)
    assert any("/lake/minutes/" in k for k in keys) and any(
        k.endswith("derived/weekly.parquet") for k in keys
    )
    assert not any(k.endswith(".lock") for k in keys), (
        "the lock object is deleted when the run ends"
    )
    run_info = [k for k in keys if k.endswith("/run_info.json")]
    assert len(run_info) == 1  # the nightly writes a run record (irisin ingest does not)
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=sorted(run_info)[-1])["Body"].read()
    assert json.loads(body)["config_hash"] == open_study(local).inputs_hash()

    expected, got = normalized(local), normalized(remote)
    assert expected["minutes"].height > 5_000 and expected["weekly"].height >= 20
    for name, table in expected.items():
        assert got[name].equals(table), f"warehouse table {name} differs between S3 and disk"
    local_derived = derived_tables(str(local / "store" / "derived"))
    remote_derived = derived_tables(f"{url}/derived")
    assert local_derived.keys() == remote_derived.keys() and "weekly" in local_derived
    for name, table in local_derived.items():
        assert remote_derived[name].equals(table), f"derived table {name} differs"
    assert (remote / "weekly.csv").read_bytes() == (local / "weekly.csv").read_bytes()
    assert pl.read_parquet(remote / "minutes.parquet").equals(
        pl.read_parquet(local / "minutes.parquet")
    )
    assert export_columns(pl.read_csv(remote / "weekly.csv", try_parse_dates=True)).equals(
        export_columns(small_demo.expected_weekly)
    )

    # a second nightly reads nothing new and changes no table
    cli("nightly", "--study", str(remote))
    for name, table in normalized(remote).items():
        assert table.equals(got[name]), name
    assert Lake(f"{url}/lake").recover() == []


@pytest.mark.slow  # about 40 s: the same commands run twice, on disk and on S3
@pytest.mark.usefixtures("prefect_api")
def test_a_backfill_on_s3_equals_the_same_backfill_on_disk(
    small_demo: DemoCopy, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    from flows.backfill import backfill_flow

    local = configure(copy_study(small_demo.root, tmp_path / "local"), batch=2, concurrency=2)
    remote = configure(copy_study(small_demo.root, tmp_path / "remote"), batch=2, concurrency=2)
    url = on_object_storage(remote, "backfill")
    local_result = backfill_flow(str(local), show_progress=False)
    remote_result = backfill_flow(str(remote), show_progress=False)
    assert remote_result["batches"] == local_result["batches"] == 2
    assert remote_result["files"] == local_result["files"]
    expected, got = normalized(local), normalized(remote)
    for name, table in expected.items():
        assert got[name].equals(table), f"warehouse table {name} differs between S3 and disk"
    assert export_columns(got["weekly"]).equals(export_columns(small_demo.expected_weekly))
    assert not (remote / "store" / "lake").exists()
    assert any(f"/lake/{MANIFEST}/" in k for k in objects_under(url)), "the commit objects"


@pytest.mark.slow  # about 60 s: a clean backfill, a killed one and its resumption
def test_a_backfill_killed_while_writing_to_s3_is_completed_by_the_next_run(
    small_demo: DemoCopy,
    tmp_path: Path,
    s3_env: dict[str, str],
    prefect_api: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL as the first lake objects appear (maybe between a data object and its manifest object).

    Nothing renames on object storage, so what the kill leaves is objects no
    manifest names, and the dead run's lock object. The next run is refused
    while that lock looks alive, takes it over once stale, recovers the lake
    and ends with the tables of an uninterrupted run.
    """
    from flows.backfill import backfill_flow

    clean = configure(copy_study(small_demo.root, tmp_path / "clean"), batch=2, concurrency=2)
    on_object_storage(clean, "clean")
    backfill_flow(str(clean), show_progress=False)
    expected = normalized(clean)

    root = configure(copy_study(small_demo.root, tmp_path / "killed"), batch=2, concurrency=2)
    url = on_object_storage(root, "killed")
    proc = start_backfill(root, prefect_api, hold=None)
    wait_until(
        lambda: any("/lake/" in k and k.endswith(".parquet") for k in objects_under(url)), proc
    )
    kill(proc)
    assert "killed/runs/.lock" in objects_under(url), "a killed run cannot delete its lock object"

    with pytest.raises(StudyBusyError, match="another irisin run"):
        backfill_flow(str(root), show_progress=False)
    monkeypatch.setenv("IRISIN_LOCK_STALE_SECONDS", "1")
    time.sleep(1.1)
    backfill_flow(str(root), show_progress=False)

    got = normalized(root)
    for name, table in expected.items():
        assert got[name].equals(table), f"table {name} differs from an uninterrupted run on S3"
    assert Lake(f"{url}/lake").recover() == []
    assert "killed/runs/.lock" not in objects_under(url)


# -- the lock --------------------------------------------------------------------

HOLDER = """
import sys, time
from config import open_study
from pipeline.lock import study_lock
with study_lock(open_study(sys.argv[1]), "holder test"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_second_writer_on_s3_is_refused_while_the_first_holds_the_lock_object(
    small_demo: DemoCopy, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    root = copy_study(small_demo.root, tmp_path / "demo")
    url = on_object_storage(root, "locked")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert objects_under(url) == ["locked/runs/.lock"]
        study = open_study(root)
        with (
            pytest.raises(StudyBusyError, match=r"another irisin run \(pid \d+ on .*, holder test"),
            study_lock(study, "second writer"),
        ):
            pass
        from irisin.cli import app

        refused = runner.invoke(
            app,
            [
                "ingest",
                str(root / "inbox" / "P02"),
                "--study",
                str(root),
                "-p",
                "P02",
                "--wait",
                "0",
            ],
        )
        assert refused.exit_code == 75, refused.output
        assert "runs/.lock: another irisin run" in refused.output
        assert not any("/lake/" in k for k in objects_under(url)), (
            "the refused writer wrote nothing"
        )
        waited: list[str] = []
        started = time.monotonic()
        patient = study_lock(study, "patient writer", wait_seconds=1.0, on_wait=waited.append)
        with pytest.raises(StudyBusyError, match="waited 1 s"), patient:
            pass
        assert time.monotonic() - started >= 1.0 and len(waited) == 1
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()
    assert holder.returncode == 0
    assert objects_under(url) == [], "the holder deleted its lock object"
    with study_lock(open_study(root), "after"):
        assert holds_lock(open_study(root))
    assert not holds_lock(open_study(root))


def test_a_lock_object_left_by_a_dead_run_is_taken_over_once_stale(
    s3_env: dict[str, str],
) -> None:
    url = f"s3://{BUCKET}/stale/runs/.lock"
    dead = ObjectLock(url)
    assert dead.try_acquire("a run killed later") is None
    dead._stop.set()  # the run dies: no heartbeat, no release
    assert dead._beat is not None
    dead._beat.join()
    said = ObjectLock(url, stale_after=60).try_acquire("next run")
    assert said is not None and "a run killed later" in said, "a recent lock is respected"
    time.sleep(0.6)
    quick = ObjectLock(url, stale_after=0.5)
    assert quick.try_acquire("next run") is None, "a lock without heartbeat is taken over"
    late = ObjectLock(url, stale_after=60)
    assert late.try_acquire("third run") is not None, "the taker's fresh lock is held"
    dead.release()  # the dead run's ETag is stale: it must not delete the taker's lock
    assert quick.holder() is not None and "next run" in quick.holder()[0]["holder"]  # type: ignore[index]
    quick.release()
    assert quick.holder() is None


def test_a_derived_table_on_s3_is_replaced_whole_and_a_damaged_one_is_named_by_verify(
    s3_env: dict[str, str],
) -> None:
    from store.derived import DerivedTableDamaged
    from store.verify import remote_derived_damage

    url = f"s3://{BUCKET}/derived-only/derived"
    store = DerivedStore(url)
    scores = pl.DataFrame({"participant_id": ["P01", "P02"], "mvpa_minutes": [61, 12]})
    store.write("participant_scores", scores)
    assert store.tables() == ["participant_scores"] and store.exists("participant_scores")
    assert store.read("participant_scores") is not None and store.read("participant_scores").equals(
        scores
    )  # type: ignore[union-attr]

    def broken(out: object) -> None:
        raise RuntimeError("the writer died mid-table")

    from store.atomic import write_with

    with pytest.raises(RuntimeError):
        write_with(store._key("participant_scores"), broken, store.fs)
    assert store.read("participant_scores").equals(scores), "a failed write leaves the old table"  # type: ignore[union-attr]
    assert remote_derived_damage(store) == []

    boto3.client("s3").put_object(
        Bucket=BUCKET, Key="derived-only/derived/daily.parquet", Body=b"PAR1 not parquet"
    )
    with pytest.raises(
        DerivedTableDamaged, match=f"s3://{BUCKET}/derived-only/derived/daily.parquet"
    ):
        store.read("daily")
    damage = remote_derived_damage(store)
    assert [d.path for d in damage] == [f"s3://{BUCKET}/derived-only/derived/daily.parquet"]
    assert store.read_rebuildable("daily") is None
