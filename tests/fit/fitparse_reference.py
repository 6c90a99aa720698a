"""Field-by-field comparison of irisin's decoder with fitparse, the reference decoder.

Kept separate from the test module so the comparison can be run on any file
(``python -m tests.fit.fitparse_reference FILE``) when a difference needs study.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fitparse
import numpy as np

from ingest.fit.decode import Column, DecodedFit, decode_fit
from ingest.fit.timestamps import FIT_EPOCH_UNIX_S

COMPARED_MESSAGES = ("record", "session", "monitoring", "monitoring_info")
FLOAT_REL_TOL = 1e-9


class FitparseFailed(Exception):
    """fitparse itself cannot read the file."""


def fitparse_messages(
    path: Path, names: Iterable[str]
) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """fitparse's messages of the given types (per message, field name to (value, raw value)),
    and fitparse's error when it stops early (the messages before the error are kept)."""
    wanted = set(names)
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in wanted}
    error = None
    try:
        fit = fitparse.FitFile(str(path))
        for message in fit.get_messages():
            if message.name not in wanted:
                continue
            fields: dict[str, Any] = {}
            direct: set[str] = set()
            for fd in message.fields:
                if fd.field is not None and getattr(fd.field, "field_type", "") == "devfield":
                    continue
                is_direct = fd.field_def is not None
                if fd.name in fields and fd.name in direct and not is_direct:
                    continue  # a directly written field wins over one expanded from a component
                if fd.name in fields and not is_direct and fd.value is None:
                    continue
                fields[fd.name] = (fd.value, fd.raw_value)
                if is_direct:
                    direct.add(fd.name)
            out[message.name].append(fields)
    except (
        Exception
    ) as exc:  # fitparse raises many types for damage; any of them means "cannot read"
        error = f"{type(exc).__name__}: {exc}"
    return out, error


def _same_number(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, float) or isinstance(ours, float):
        if math.isnan(float(ours)) and math.isnan(float(theirs)):
            return True
        return math.isclose(
            float(ours), float(theirs), rel_tol=FLOAT_REL_TOL, abs_tol=0.0
        ) or float(ours) == float(theirs)
    return int(ours) == int(theirs)


def _compare_value(col: Column, row: int, theirs: Any, raw: Any) -> str | None:
    """None when our value at ``row`` equals fitparse's, else a description of the difference."""
    valid = col.valid[row]
    value = col.values[row]
    if theirs is None:
        if np.ndim(valid) == 0 and not valid:
            return None
        if np.ndim(valid) and not np.any(valid):
            return None
        return f"fitparse None, irisin {value!r}"
    if np.ndim(valid) == 0 and not valid:
        return f"fitparse {theirs!r}, irisin invalid"
    if isinstance(theirs, dt.datetime):
        expected = int((theirs - dt.datetime(1970, 1, 1)).total_seconds()) - FIT_EPOCH_UNIX_S
        return None if int(value) == expected else f"fitparse {theirs} ({expected}), irisin {value}"
    if isinstance(theirs, dt.time) or (isinstance(theirs, str) and not isinstance(value, str)):
        theirs = raw  # enumeration names and times of day: compare the raw numbers
    if isinstance(theirs, bool):
        return None if bool(value) == theirs else f"fitparse {theirs}, irisin {value}"
    if isinstance(theirs, str):
        return None if value == theirs else f"fitparse {theirs!r}, irisin {value!r}"
    if isinstance(theirs, tuple):
        ours = list(np.asarray(value).reshape(-1))
        oks = list(np.broadcast_to(np.asarray(valid), (len(ours),)))
        if len(ours) < len(theirs):
            return f"fitparse {len(theirs)} elements, irisin {len(ours)}"
        for o, ok, t in zip(ours, oks, theirs, strict=False):
            if t is None:
                if ok and np.ndim(col.valid) > 1:
                    return f"fitparse element None, irisin {o!r}"
                continue
            if not _same_number(o, t):
                return f"fitparse {theirs!r}, irisin {ours!r}"
        return None
    if isinstance(theirs, (int, float)):
        return None if _same_number(value, theirs) else f"fitparse {theirs!r}, irisin {value!r}"
    return f"uncompared type {type(theirs).__name__}"


def differences(
    path: Path,
    decoded: DecodedFit | None = None,
    limit: int = 20,
    *,
    prefix_if_fitparse_fails: bool = False,
) -> tuple[int, list[str]]:
    """(number of field values compared, up to ``limit`` differences) between irisin and fitparse.

    Raises ``FitparseFailed`` when fitparse cannot read the whole file, unless
    ``prefix_if_fitparse_fails``: then the messages fitparse read before failing
    are compared with irisin's first rows (irisin must have at least as many).
    """
    decoded = decoded or decode_fit(path.read_bytes())
    reference, error = fitparse_messages(path, COMPARED_MESSAGES)
    if error is not None and not prefix_if_fitparse_fails:
        raise FitparseFailed(error)
    problems: list[str] = []
    compared = 0
    for name, messages in reference.items():
        table = decoded[name]
        if len(table) != len(messages) and (error is None or len(table) < len(messages)):
            problems.append(f"{name}: fitparse {len(messages)} messages, irisin {len(table)}")
            continue
        for row, fields in enumerate(messages):
            for field, (theirs, raw) in fields.items():
                col = table.get(field)
                if col is None:
                    if theirs is not None:
                        problems.append(
                            f"{name}[{row}].{field}: fitparse {theirs!r}, irisin has no column"
                        )
                    continue
                compared += 1
                problem = _compare_value(col, row, theirs, raw)
                if problem:
                    problems.append(f"{name}[{row}].{field}: {problem}")
                if len(problems) >= limit:
                    return compared, problems
    return compared, problems


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        try:
            n, probs = differences(Path(arg))
        except FitparseFailed as exc:
            print(f"{arg}: fitparse cannot read it ({exc})")
            continue
        print(f"{arg}: {n} values compared, {len(probs)} differences")
        for p in probs:
            print("   ", p)
