"""The vendored Open mHealth and IEEE 1752.1 schemas as a ``referencing`` registry, for validation offline.

Open mHealth files are in ``schemas/``, IEEE 1752.1 files in ``schemas/ieee/``
(``schemas/README.md`` says where each came from). A reference is resolved
against the schema that makes it: one inside an IEEE schema (whose ``$id``
is under ``https://w3id.org/ieee/ieee-1752-schema/``) is looked up in
``ieee/`` first; the IEEE utility schemas whose published text is not
vendored (``unit-value``, ``duration-unit-value``, ``time-frame``,
``time-interval``, ``date-time``) resolve to the Open mHealth files they
were adopted from. Upstream Open mHealth ``name-1.x.json`` files are links to
the current ``name-1.0.json``; references to them resolve the same way here.
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
IEEE_FOLDER = FOLDER / "ieee"
BASE = "https://w3id.org/openmhealth/schemas/omh/"
IEEE_BASE = "https://w3id.org/ieee/ieee-1752-schema/"
_ALIAS = re.compile(r"-(\d+)\.x(\.json)?$")


def schema_file(name: str, *, ieee: bool = False) -> Path:
    """The vendored file for a reference such as ``time-frame-1.x.json`` or ``header-1.0.json``.

    With ``ieee`` (or a reference under ``IEEE_BASE``) the IEEE 1752.1 file
    is preferred where one is vendored.
    """
    ieee = ieee or name.startswith(IEEE_BASE)
    name = _ALIAS.sub(lambda m: f"-{m.group(1)}.0.json", name.rsplit("/", 1)[-1])
    if not name.endswith(".json"):
        name += ".json"
    if ieee and (IEEE_FOLDER / name).exists():
        return IEEE_FOLDER / name
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


def schema(name: str, *, ieee: bool = False) -> dict[str, Any]:
    """A vendored schema with its id set, so relative references resolve against the vendored folder.

    Open mHealth files (draft-04) get an ``id``; IEEE 1752.1 files carry their own ``$id``.
    """
    path = schema_file(name, ieee=ieee)
    contents: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if "$id" not in contents:
        contents.setdefault("id", BASE + path.name)
    return contents
