"""The dashboard's password: where it comes from and how it is checked.

The password is never read from ``study.toml``: it comes from the environment
variable ``IRISIN_DASHBOARD_PASSWORD`` or from Streamlit secrets
(``[dashboard] password`` in ``.streamlit/secrets.toml``), the environment
winning. No password configured means no gate, which is only sensible because
the server binds to 127.0.0.1 by default.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

PASSWORD_ENV = "IRISIN_DASHBOARD_PASSWORD"


def configured_password(environ: Mapping[str, str], secrets: Mapping[str, Any]) -> str | None:
    """The password in force, or None when none is set (an empty value counts as unset)."""
    from_env = environ.get(PASSWORD_ENV, "")
    if from_env:
        return from_env
    section = secrets.get("dashboard") if secrets else None
    value = section.get("password") if isinstance(section, Mapping) else None
    return str(value) if value else None


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response time does not leak how much of a guess was right."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
