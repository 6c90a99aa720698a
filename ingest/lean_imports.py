"""Keep pandas out of processes that only ingest: pyarrow's pandas probe, answered without importing it.

irisin never hands pandas objects to pyarrow, yet the first time pyarrow
converts any Python or numpy value (``pa.array``, ``pa.scalar``,
``Table.from_pylist``, a compute function given a Python scalar) it imports
pandas, about half a second and 60 MB, only to ask whether the value is a
pandas object. Every reader, the lake and the manifest make such conversions,
so every ingest process and every reader worker paid for it.

``skip_pandas_probe`` lets that implicit probe find no pandas: while a
finder that refuses pandas sits first on ``sys.meta_path``, an import of
pandas fails, pyarrow records "no pandas" for its implicit checks, and the
finder is removed again.
pyarrow re-imports pandas whenever it is explicitly asked for it
(``to_pandas``, ``from_pandas``), and ``import pandas`` works as usual, so
only the wasted import is skipped. Called at the start of a command line
process and of each reader worker, never on library import (a test process
may hand pandas objects to pyarrow).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence


def skip_pandas_probe() -> bool:
    """Answer pyarrow's implicit pandas probe with "not installed", unless pandas is already loaded.

    Returns whether the probe was answered here. Call it before other threads
    start: for an instant, importing pandas fails in this process.
    """
    if sys.modules.get("pandas") is not None:
        return False
    import pyarrow as pa

    refuse = _RefusePandas()
    sys.meta_path.insert(0, refuse)
    try:
        pa.array([0])  # the first conversion runs the probe; it now fails and is remembered
    finally:
        sys.meta_path.remove(refuse)
    return True


class _RefusePandas(importlib.abc.MetaPathFinder):
    """An import finder under which ``import pandas`` fails as if it were not installed."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None
