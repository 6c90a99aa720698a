"""Suite-wide fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Put back ``__main__`` after each test.

    Streamlit's script runner (used by ``AppTest``) installs the page script as
    ``sys.modules["__main__"]`` and leaves it there. Every process a later test
    starts with ``spawn`` or ``forkserver`` (the FIT reader pool) then re-runs
    that deleted temporary script on start-up and dies, so the pool breaks for
    the rest of the worker's tests.
    """
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
