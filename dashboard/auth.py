"""The dashboard's password: where it comes from and how it is checked.

The password is never read from ``study.toml``: it comes from the environment
variable ``IRISIN_DASHBOARD_PASSWORD`` or from Streamlit secrets
(``[dashboard] password`` in ``.streamlit/secrets.toml``), the environment
winning. No password configured means no gate, which is only allowed on a
loopback address (127.0.0.1 by default) unless ``--insecure-no-password`` is
given, and then the page says so. Failed sign-ins are logged and answered
after a delay that grows per client.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger("irisin.dashboard")

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


# -- failed sign-ins ------------------------------------------------------------------------------

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
FORGET_AFTER_SECONDS = 15 * 60.0


@dataclass
class LoginThrottle:
    """A growing delay per client after failed sign-ins: 1 s, 2 s, 4 s ... up to 30 s.

    Shared by every session of the server process (a client that opens a
    new tab keeps its count); a success clears the client's count, and a
    count is forgotten 15 minutes after the client's last failure.
    """

    clock: Callable[[], float] = time.monotonic
    failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self, client: str) -> float:
        """Record a failure of ``client``; the seconds to wait before answering it."""
        now = self.clock()
        with self.lock:
            count, last = self.failures.get(client, (0, now))
            count = 1 if now - last > FORGET_AFTER_SECONDS else count + 1
            self.failures[client] = (count, now)
        delay = float(min(FIRST_DELAY_SECONDS * 2 ** (count - 1), MAX_DELAY_SECONDS))
        LOG.warning(
            "dashboard: failed sign-in %d from %s; answering in %.0f s", count, client, delay
        )
        return delay

    def succeeded(self, client: str) -> None:
        with self.lock:
            self.failures.pop(client, None)

    def count(self, client: str) -> int:
        with self.lock:
            return self.failures.get(client, (0, 0.0))[0]


def wait(seconds: float) -> None:
    """Hold this session's answer (one place, so tests can record the waits)."""
    time.sleep(seconds)


THROTTLE = LoginThrottle()
"""The server process's throttle (module state: Streamlit re-runs the page script, not this module)."""


# -- where the server may listen ------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secrets_password(folders: list[Path]) -> str | None:
    """A password in ``.streamlit/secrets.toml`` under any of ``folders`` (what Streamlit would read)."""
    for folder in folders:
        path = folder / ".streamlit" / "secrets.toml"
        try:
            found = configured_password({}, tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if found:
            return found
    return None


def refuse_open_server(
    host: str, environ: Mapping[str, str], folders: list[Path], insecure: bool
) -> str | None:
    """Why serving on ``host`` must be refused, or None: a non-loopback address needs a password."""
    if is_loopback(host) or insecure:
        return None
    if configured_password(environ, {}) or secrets_password(folders):
        return None
    return (
        f"refusing to serve participant data on {host} without a password: set {PASSWORD_ENV} "
        "(or [dashboard] password in .streamlit/secrets.toml), listen on 127.0.0.1, or pass "
        "--insecure-no-password if the network is trusted"
    )
