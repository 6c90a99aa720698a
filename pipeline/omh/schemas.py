"""The vendored Open mHealth schemas (``schemas/``) as a ``referencing`` registry, for validation offline.

Upstream ``name-1.x.json`` files are links to the current ``name-1.0.json``;
references to them resolve the same way here.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

FOLDER = Path(__file__).with_name("schemas")
BASE = "https://w3id.org/openmhealth/schemas/omh/"
_ALIAS = re.compile(r"-(\d+)\.x(\.json)?$")


def schema_file(name: str) -> Path:
    """The vendored file for a reference such as ``time-frame-1.x.json`` or ``header-1.0.json``."""
    name = _ALIAS.sub(lambda m: f"-{m.group(1)}.0.json", name.rsplit("/", 1)[-1])
    if not name.endswith(".json"):
        name += ".json"
    return FOLDER / name


def _retrieve(uri: str) -> Resource[Any]:
    path = schema_file(uri)
    if not path.exists():
        raise LookupError(f"{uri}: schema not vendored in {FOLDER}")
    return Resource.from_contents(
        json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT4
    )


@cache
def registry() -> Registry[Any]:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def schema(name: str) -> dict[str, Any]:
    """A vendored schema with its ``id`` set, so relative references resolve against the vendored folder."""
    contents: dict[str, Any] = json.loads(schema_file(name).read_text(encoding="utf-8"))
    contents.setdefault("id", BASE + schema_file(name).name)
    return contents
