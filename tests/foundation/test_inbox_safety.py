"""The inbox walk follows no symlink and opens only regular files; each refusal is named, the rest is read.

Issue 13 item 2, literally: a FIT file linked to ``/etc/hosts``, a
participant folder linked to ``/etc/ssl``, symlink loops, and FIFOs (one
loose, one inside an export folder), which once hung ``ingest`` for ever.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config import init_study, open_study
from ingest.archive import open_bundle
from pipeline.jobs import files_under, inbox_items, ingest_item, new_items

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    study = tmp_path / "study"
    init_study(study)
    with (study / "roster.csv").open("a") as roster:  # the roster's participants (issue 12 item 4)
        roster.writelines(f"{pid},UTC,,,,,,\n" for pid in ("P01", "P02", "P03", "P04"))
    inbox = study / "inbox"
    (inbox / "P01").mkdir()
    (inbox / "P01" / "hosts.fit").symlink_to("/etc/hosts")
    (inbox / "P01" / "good.json").write_text("[]")
    (inbox / "P02").symlink_to("/etc/ssl", target_is_directory=True)
    (inbox / "P03").mkdir()
    (inbox / "P03" / "loop").symlink_to(inbox / "P03" / "loop")
    export = inbox / "P03" / "export"
    (export / "Fitbit").mkdir(parents=True)
    (export / "Fitbit" / "steps.json").write_text("[]")
    (export / "Fitbit" / "a").symlink_to(export / "Fitbit" / "b")
    (export / "Fitbit" / "b").symlink_to(export / "Fitbit" / "a")
    (export / "up").symlink_to(export, target_is_directory=True)
    os.mkfifo(export / "Fitbit" / "heart_rate.json")
    os.mkfifo(inbox / "P01" / "pipe.fit")
    fits = inbox / "P04" / "watch"
    fits.mkdir(parents=True)
    (fits / "a.fit").write_bytes(b"x" * 20)
    os.mkfifo(fits / "b.fit")
    (fits / "c.fit").symlink_to("/etc/hosts")
    return study


def test_inbox_items_refuse_links_and_special_files(hostile: Path) -> None:
    items = inbox_items(open_study(hostile))
    inbox = hostile / "inbox"
    refused = {str(i.path.relative_to(inbox)): i.refused for i in items if i.refused}
    assert set(refused) == {
        "P01/hosts.fit",
        "P01/pipe.fit",
        "P02",
        "P03/loop",
        "P04/watch/b.fit",
        "P04/watch/c.fit",
    }
    assert refused["P02"].startswith("symlink: refused")
    assert refused["P01/hosts.fit"].startswith("symlink: refused")
    assert refused["P03/loop"].startswith("symlink: refused")
    assert refused["P01/pipe.fit"] == "FIFO (named pipe): refused (only regular files are read)"
    read = {str(i.path.relative_to(inbox)) for i in items if not i.refused}
    assert read == {"P01/good.json", "P03/export", "P04/watch/a.fit"}
    # listing the export folder's files lists only its regular files
    assert [p.name for p in files_under(inbox / "P03" / "export")] == ["steps.json"]


def test_refused_entries_are_reported_each_run_and_never_opened(hostile: Path) -> None:
    study = open_study(hostile)
    items = inbox_items(study)
    fresh = new_items(items, set())  # hashing: a FIFO opened here would block for ever
    assert {i.path for i in items if i.refused} <= {i.path for i in fresh}
    for item in [i for i in fresh if i.refused]:
        (outcome,) = ingest_item(study, item).outcomes
        assert (outcome.kind, outcome.status) == ("refused", "quarantined")
        assert outcome.reason == item.refused
    assert not (hostile / "store" / "quarantine").exists() or not any(
        b"localhost" in p.read_bytes()
        for p in (hostile / "store" / "quarantine").rglob("*")
        if p.is_file()
    )


def test_export_folder_walk_names_links_loops_and_fifos(hostile: Path) -> None:
    with open_bundle(hostile / "inbox" / "P03" / "export") as b:
        assert [m.path for m in b.members] == ["Fitbit/steps.json"]
        reasons = {r.path: r.reason for r in b.refusals}
    assert reasons == {
        "Fitbit/a": "symlink 'Fitbit/a' in folder: refused",
        "Fitbit/b": "symlink 'Fitbit/b' in folder: refused",
        "Fitbit/heart_rate.json": "FIFO (named pipe) 'Fitbit/heart_rate.json' in folder: refused",
        "up": "symlink 'up' in folder: refused",
    }


def test_ingesting_the_export_folder_lands_the_rest(hostile: Path) -> None:
    study = open_study(hostile)
    (item,) = [i for i in inbox_items(study) if i.path.name == "export"]
    report = ingest_item(study, item)
    by_name = {o.path.rsplit("/", 1)[-1]: o for o in report.outcomes}
    assert by_name["heart_rate.json"].status == "quarantined"
    assert "FIFO" in (by_name["heart_rate.json"].reason or "")
    assert by_name["steps.json"].status != "quarantined"
    # nothing from outside the study was copied in
    for p in (hostile / "store").rglob("*"):
        assert not p.is_symlink()


def test_a_fifo_given_as_a_file_is_refused_not_opened(hostile: Path) -> None:
    from ingest.pipeline import Ingestor

    report = Ingestor(open_study(hostile)).ingest("P01", [hostile / "inbox" / "P01" / "pipe.fit"])
    (o,) = report.outcomes
    assert (o.status, o.kind) == ("quarantined", "refused")
    assert "FIFO (named pipe): refused" in (o.reason or "")
