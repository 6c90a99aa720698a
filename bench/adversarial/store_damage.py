"""Damaged store files: ``irisin verify`` must name each, ``irisin repair`` (or the nightly) restore the tables.

On the demo study after one nightly, each case damages one file (a
committed lake part truncated or overwritten, a manifest part truncated, a
derived table corrupted or emptied, the Prefect database corrupted, a
leftover temporary file), then runs ``irisin verify``, ``irisin repair`` and
``irisin verify`` again through the CLI, and (for derived tables) a nightly.
*Good records lost*: rows of the clean warehouse tables that differ after
repair (file paths compared relative to the study).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from bench.adversarial.figures import AreaFigures
from bench.adversarial.kills import _difference, _prefect_api, comparable
from tests.flows.conftest import copy_study


def _largest(root: Path, table: str) -> Path:
    parts = [p for p in (root / "store" / "lake" / table).rglob("*.parquet")]
    return max(parts, key=lambda p: p.stat().st_size)


def _truncate(path: Path, keep: float) -> None:
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


def _cases() -> list[tuple[str, Callable[[Path], Path], bool]]:
    """(label, damage returning the damaged file, whether a nightly rather than repair restores it)."""

    def lake_half(root: Path) -> Path:
        p = _largest(root, "minutes")
        _truncate(p, 0.5)
        return p

    def lake_tail(root: Path) -> Path:
        p = _largest(root, "minutes")
        _truncate(p, 0.98)
        return p

    def lake_noise(root: Path) -> Path:
        p = _largest(root, "daily_totals")
        data = bytearray(p.read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = os.urandom(64)
        p.write_bytes(bytes(data))
        return p

    def manifest_half(root: Path) -> Path:
        p = _largest(root, "files")
        _truncate(p, 0.5)
        return p

    def derived(name: str, payload: bytes) -> Callable[[Path], Path]:
        def damage(root: Path) -> Path:
            p = root / "store" / "derived" / name
            p.write_bytes(payload)
            return p

        return damage

    def prefect_db(root: Path) -> Path:
        home = root / ".prefect-under-test"
        home.mkdir(exist_ok=True)
        db = home / "prefect.db"
        db.write_bytes(b"SQLite format 3\x00" + b"\x00\xff" * 4096)
        os.environ["PREFECT_HOME"] = str(home)
        return db

    return [
        ("lake minutes part cut in half", lake_half, False),
        ("lake minutes part missing its footer", lake_tail, False),
        ("lake daily_totals part with 64 random bytes", lake_noise, False),
        ("manifest part cut in half", manifest_half, False),
        (
            "derived weekly.parquet overwritten",
            derived("weekly.parquet", b"PAR1 not really" + os.urandom(200)),
            True,
        ),
        ("derived daily.parquet emptied", derived("daily.parquet", b""), True),
        ("Prefect database corrupt", prefect_db, False),
    ]


def _cli(*args: str) -> tuple[int, str]:
    from irisin.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run(folder: Path) -> AreaFigures:
    from flows.nightly import nightly_flow
    from pipeline.demo.generate import generate_demo

    fig = AreaFigures("damaged store files")
    demo = generate_demo(folder / "template" / "demo")
    home = os.environ.get("PREFECT_HOME")
    with _prefect_api():
        after = copy_study(demo.root, folder / "after-nightly")
        nightly_flow(str(after))
        clean = comparable(after)
        for i, (label, damage, by_nightly) in enumerate(_cases()):
            fig.cases += 1
            root = copy_study(after, folder / f"case-{i:02d}")
            try:
                damaged = damage(root)
                code, out = _cli("verify", "--study", str(root))
                named = code == 1 and str(damaged) in out
                fig.outcomes["verify named it" if named else "verify did not name it"] += 1
                if by_nightly:
                    nightly_flow(str(root))
                else:
                    code, out = _cli("repair", "--study", str(root))
                    if code != 0:
                        fig.outcomes["repair failed"] += 1
                code, _ = _cli("verify", "--study", str(root))
                fig.outcomes[
                    "verify clean after repair" if code == 0 else "still damaged after repair"
                ] += 1
                got = comparable(root)
            except Exception as error:
                fig.crashed(label, error)
                continue
            finally:
                if home is None:
                    os.environ.pop("PREFECT_HOME", None)
                else:
                    os.environ["PREFECT_HOME"] = home
            lost = _difference(clean, got)
            fig.good_lost += lost
            if lost and len(fig.loss_examples) < 8:
                fig.loss_examples.append(
                    f"{label}: {lost} rows differ from the clean run after repair"
                )
    return fig
