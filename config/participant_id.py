"""Participant ids: one rule, checked once wherever an id comes from.

An id names a folder of the inbox and becomes part of store paths and of
every table, so it is checked where it enters irisin (the command line,
``roster.csv``, an export's own ``Id`` column, an inbox folder name) and
nowhere trusted unchecked. The rule keeps an id a single, portable path
component: ASCII letters, digits, ``-``, ``_`` and ``.``, at most 64
characters, not starting with ``.`` (so never ``.``, ``..`` or a hidden name).
"""

from __future__ import annotations

import re

MAX_LENGTH = 64
RULE = f"letters A-Z a-z, digits, '-', '_' and '.' only, at most {MAX_LENGTH} characters, not starting with '.'"
"""The rule in words, as error messages quote it."""

_PATTERN = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{MAX_LENGTH - 1}}}")


class ParticipantIdError(ValueError):
    """A participant id breaks the rule; the message names the value, where it came from and the rule."""


def _shown(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else f"{text[:60]}...' ({len(str(raw))} characters)"


def problem_with(raw: object) -> str | None:
    """What is wrong with ``raw`` as a participant id, or None when it is valid."""
    if not isinstance(raw, str):
        return f"is a {type(raw).__name__}, not text"
    if raw == "":
        return "is empty"
    if len(raw) > MAX_LENGTH:
        return f"is {len(raw)} characters long, more than {MAX_LENGTH}"
    if raw.startswith("."):
        return "starts with '.'"
    if _PATTERN.fullmatch(raw) is None:
        bad = sorted({c for c in raw if not (c.isascii() and (c.isalnum() or c in "._-"))})
        return f"contains {', '.join(repr(c) for c in bad)}"
    return None


def validate_participant_id(raw: str, source: str = "participant id") -> str:
    """Return ``raw`` unchanged when it is a valid participant id, else raise ``ParticipantIdError``.

    ``source`` says where the value came from (``--participant``, a roster
    row, a file's ``Id`` column), so the message tells a person what to fix.
    Nothing is stripped or changed: an id is either valid as given or refused.
    """
    problem = problem_with(raw)
    if problem is not None:
        raise ParticipantIdError(
            f"{source} {_shown(raw)} {problem}: a participant id must use {RULE}"
        )
    return raw
