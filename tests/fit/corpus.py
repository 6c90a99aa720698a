"""Where the shared FIT corpus lives, and a clean skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS_FIT = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "fit"
FITPARSE_FILES = CORPUS_FIT / "python-fitparse" / "tests" / "files"
SDK_MONITORING_CSV = (
    CORPUS_FIT / "muktihari-fit" / "testdata" / "from_official_sdk" / "MonitoringFile.csv"
)


def corpus_files() -> list[Path]:
    """Every FIT file of the corpus (empty when the corpus is absent)."""
    if not CORPUS_FIT.is_dir():
        return []
    return sorted(p for p in CORPUS_FIT.rglob("*") if p.suffix.lower() == ".fit")


def corpus_file(name: str) -> Path:
    """A corpus file by its name, skipping the test when the corpus is not there."""
    matches = [p for p in corpus_files() if p.name == name]
    if not matches:
        pytest.skip(f"FIT corpus file {name} not found under {CORPUS_FIT} (shared corpus absent)")
    return matches[0]


def require_corpus() -> None:
    if not corpus_files():
        pytest.skip(f"shared FIT corpus not found at {CORPUS_FIT}")
