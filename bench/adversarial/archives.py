"""30 hostile archives around one good Takeout export, each ingested by the real pipeline.

Every case is a zip that holds the same good Takeout JSON export (five
files of a worn morning) next to, or damaged by, something hostile:
encrypted and Deflate64 members, members sharing a name, path tricks, bombs
of three kinds, nesting, damage to the archive's own structure. Each is
ingested by ``ingest.pipeline.Ingestor`` into a fresh study. *Good records
lost* are rows of the good export (as the clean archive lands them) that do
not land; for cases whose damage reaches the good members themselves
(``REACHES_GOOD``) the rows they can still be expected to give are counted
apart, in the outcomes.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl

from bench.adversarial.figures import AreaFigures
from config import init_study, open_study
from ingest.pipeline import Ingestor
from pipeline.demo.fitbit_files import write_takeout_json
from tests.fitbit.helpers import worn_truth
from tests.foundation.test_archive_limits import _with_flag, _with_method

TZ = "Europe/Oslo"
GOOD_TABLES = ("minutes", "daily_totals")


def _good_members(folder: Path) -> dict[str, bytes]:
    truth = worn_truth(datetime(2026, 3, 2), 1, TZ, hours=(8, 11), seed=5)
    root = write_takeout_json(truth, folder / "export", TZ)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _zip(
    members: dict[str, bytes] | list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buf = io.BytesIO()
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are written on purpose
        with zipfile.ZipFile(buf, "w", method) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return buf.getvalue()


def _symlink_zip(good: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in good.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo("Takeout/link.json")
        info.external_attr = (0o120777 << 16) | 0
        info.create_system = 3
        zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _nested(depth: int, inner: bytes) -> bytes:
    for level in range(depth):
        inner = _zip({f"level-{level}.zip": inner})
    return inner


REACHES_GOOD = {
    "truncated at 50%",
    "truncated at 90%",
    "member CRC wrong",
    "central directory removed",
}
"""Cases whose damage touches the good members' own bytes or the index that finds them."""

HELD_BY_DESIGN = {
    "encrypted good member": "the encrypted member is held, asking for an unencrypted export",
    "duplicate names, different bytes": "both members of one name are held, named",
    "ratio bomb (80 MiB of zeros)": "a bomb is refused whole",
    "member count bomb (120,000 empty members)": "a bomb is refused whole",
    "nested ratio bomb": "a bomb is refused whole",
    "junk prepended (self-extractor)": "not a zip by its first bytes: skipped with the reason",
}
"""Cases where the rules hold good rows back on purpose, raw bytes kept (counted as held, not lost)."""

NO_GOOD_DATA = {"empty zip", "zero bytes named .zip", "not a zip named .zip"}


def _cases(good: dict[str, bytes]) -> list[tuple[str, Callable[[], bytes]]]:
    plain = _zip(good)
    steps = next(n for n in good if "steps" in n)
    zeros = b"\0" * (80 * 2**20)
    big_member = zipfile.ZipInfo("Takeout/zeros.bin")
    return [
        (
            "encrypted extra member",
            lambda: _with_flag(
                _zip({**good, "Takeout/secret.json": b"[]"}), b"Takeout/secret.json", 1
            ),
        ),
        (
            "encrypted first member",
            lambda: _with_flag(
                _zip({"Takeout/a-secret.json": b"[]", **good}), b"Takeout/a-secret.json", 1
            ),
        ),
        ("encrypted good member", lambda: _with_flag(plain, steps.encode(), 1)),
        ("Deflate64 whole archive", lambda: _with_method(_zip(good), 9)),
        (
            "unknown method 99 on extra member",
            lambda: _zip({**good}) if False else _method_on(good, "Takeout/odd.json", 99),
        ),
        ("duplicate names, different bytes", lambda: _zip([*good.items(), (steps, b"[]")])),
        ("duplicate names, same bytes", lambda: _zip([*good.items(), (steps, good[steps])])),
        (
            "names differing in case only",
            lambda: _zip([*good.items(), (steps.upper(), good[steps])]),
        ),
        ("zip slip ../", lambda: _zip({**good, "../../evil.json": b"[]"})),
        ("absolute path", lambda: _zip({**good, "/etc/evil.json": b"[]"})),
        ("backslash path", lambda: _zip({**good, "..\\..\\evil.json": b"[]"})),
        ("symlink member", lambda: _symlink_zip(good)),
        ("directory entry shadowing a file", lambda: _zip({**good, steps + "/": b""})),
        ("ratio bomb (80 MiB of zeros)", lambda: _zip({**good, "Takeout/zeros.bin": zeros})),
        (
            "member count bomb (120,000 empty members)",
            lambda: _zip({**good, **{f"x/{i}": b"" for i in range(120_000)}}, zipfile.ZIP_STORED),
        ),
        (
            "nested ratio bomb",
            lambda: _zip({**good, "Takeout/inner.zip": _zip({"zeros.bin": zeros})}),
        ),
        ("nested 5 deep", lambda: _zip({**good, "deep.zip": _nested(5, _zip({"x.json": b"[]"}))})),
        ("good export nested 2 deep", lambda: _nested(2, plain)),
        (
            "corrupt nested zip",
            lambda: _zip({**good, "Takeout/broken.zip": b"PK\x03\x04" + b"\xff" * 200}),
        ),
        ("lying member size", lambda: _lying(good)),
        ("truncated at 50%", lambda: plain[: len(plain) // 2]),
        ("truncated at 90%", lambda: plain[: len(plain) * 9 // 10]),
        (
            "central directory removed",
            lambda: plain[: plain.rfind(b"PK\x01\x02", 0, plain.find(b"PK\x05\x06"))],
        ),
        ("junk prepended (self-extractor)", lambda: b"MZ" + b"\x90" * 5000 + plain),
        ("junk appended", lambda: plain + b"\x00junk" * 1000),
        ("member CRC wrong", lambda: _bad_crc(plain, steps)),
        ("empty zip", lambda: _zip({})),
        ("zero bytes named .zip", lambda: b""),
        ("not a zip named .zip", lambda: b"this is a text file\n" * 50),
        ("stored, not deflated", lambda: _zip(good, zipfile.ZIP_STORED)),
    ]
    del big_member


def _method_on(good: dict[str, bytes], name: str, method: int) -> bytes:
    """The good export plus one extra member whose method is rewritten to ``method``."""
    extra = _with_method(_zip({name: b"[]"}), method)
    # rebuild: good members as they are, then the odd member's raw records merged by re-zipping is not
    # possible with zipfile, so the odd member goes into an archive nested in the good one instead
    return _zip({**good, "Takeout/odd.zip": extra})


def _lying(good: dict[str, bytes]) -> bytes:
    body = b"[" + b"0," * 200_000 + b"0]"
    data = _zip({**good, "Takeout/liar.json": body})
    return data.replace(struct.pack("<I", len(body)), struct.pack("<I", 1_000))


def _bad_crc(plain: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(plain)) as zf:
        crc = zf.getinfo(name).CRC
    return plain.replace(struct.pack("<I", crc), struct.pack("<I", crc ^ 0xFFFF))


def _landed(root: Path) -> dict[str, int]:
    lake = Ingestor(open_study(root)).lake
    out = {}
    for table in GOOD_TABLES:
        try:
            out[table] = lake.scan(table).select(pl.len()).collect().item()
        except Exception:  # no such table yet: nothing landed
            out[table] = 0
    return out


def _ingest(folder: Path, name: str, data: bytes) -> tuple[dict[str, int], list[str]]:
    root = folder / name
    init_study(root)
    (root / "roster.csv").write_text(f"participant_id,timezone\nP01,{TZ}\n", encoding="utf-8")
    archive = root / "inbox" / "P01" / "export.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(data)
    report = Ingestor(open_study(root)).ingest("P01", [archive])
    return _landed(root), [o.status for o in report.outcomes]


def run(folder: Path) -> AreaFigures:
    fig = AreaFigures("archives")
    good = _good_members(folder)
    clean, _ = _ingest(folder, "clean", _zip(good))
    for i, (label, build) in enumerate(_cases(good)):
        fig.cases += 1
        try:
            landed, statuses = _ingest(folder, f"case-{i:02d}", build())
        except Exception as error:
            fig.crashed(label, error)
            continue
        lost = sum(max(0, clean[t] - landed[t]) for t in GOOD_TABLES)
        held = statuses.count("quarantined")
        fig.outcomes["archive with a file held" if held else "archive read whole"] += 1
        if label in NO_GOOD_DATA:
            continue
        if label in REACHES_GOOD:
            fig.outcomes["good rows the damage itself reached (held)"] += lost
            continue
        if label in HELD_BY_DESIGN:
            fig.outcomes["good rows held by rule"] += lost
            continue
        fig.good_lost += lost
        if lost and len(fig.loss_examples) < 8:
            fig.loss_examples.append(f"{label}: {lost} good rows did not land ({statuses})")
    return fig
