"""CSV and Excel files that a spreadsheet opens as data, never as formulas (OWASP CSV injection).

Every CSV the project hands to people (``irisin export``, the dashboard's
downloads, the digest's attachments) goes through :func:`safe_csv_bytes` or
:func:`write_safe_csv`. A text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is written with a leading apostrophe, which
spreadsheets take as "this is text" and do not show; numbers, dates and
booleans are written as they are (a spreadsheet cannot read a formula from
them). Excel workbooks are written with xlsxwriter with formula and URL
detection off, so a cell holding ``=HYPERLINK(...)`` is a string there too.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import polars as pl

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters a spreadsheet may read as the start of a formula or command."""


def defused(column: pl.Expr) -> pl.Expr:
    """A text column with every formula-looking cell prefixed by an apostrophe."""
    risky = pl.any_horizontal(column.str.starts_with(c) for c in FORMULA_STARTS)
    return pl.when(risky).then(pl.lit("'") + column).otherwise(column)


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its text columns defused (other columns untouched)."""
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype in (pl.String, pl.Categorical, pl.Enum)
    ]
    return frame.with_columns(defused(pl.col(name).cast(pl.String)).alias(name) for name in text)


def safe_csv_bytes(frame: pl.DataFrame, **options: object) -> bytes:
    """UTF-8 CSV of ``frame`` with a header row, safe to open in a spreadsheet."""
    text: str = spreadsheet_safe(frame).write_csv(**options)  # type: ignore[call-overload]
    return text.encode("utf-8")


def write_safe_csv(frame: pl.DataFrame, path: Path, **options: object) -> None:
    """Write ``frame`` as a spreadsheet-safe CSV file at ``path``."""
    spreadsheet_safe(frame).write_csv(path, **options)  # type: ignore[call-overload]


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


def xlsx_bytes(sheets: Mapping[str, pl.DataFrame]) -> bytes:
    """An Excel workbook with one sheet per frame (header row bold, frozen), every string stored as text.

    xlsxwriter rather than openpyxl: it only writes (all we need), streams
    rows, and its ``strings_to_formulas`` / ``strings_to_urls`` switches make
    every string a plain text cell.
    """
    import xlsxwriter  # imported here: only exports and the digest need it

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    bold = book.add_format({"bold": True})
    for name, frame in sheets.items():
        sheet = book.add_worksheet(name[:31])
        for col, header in enumerate(frame.columns):
            sheet.write_string(0, col, header, bold)
            width = max([len(header), *(len(str(v)) for v in frame[header].head(200).to_list())])
            sheet.set_column(col, col, min(max(width + 1, 6), 60))
        for row, values in enumerate(frame.iter_rows(), start=1):
            for col, value in enumerate(values):
                value = _cell(value)
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(row, col, value)
                elif isinstance(value, int | float):
                    sheet.write_number(row, col, value)
                else:
                    sheet.write_string(row, col, str(value))
        sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()
