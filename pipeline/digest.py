"""The daily digest to staff: who is flagged by which alert rule, by e-mail, with the participant table.

The rules are :mod:`models.alerts` (the dashboard's and the run summary's),
evaluated on the study's warehouse. Nothing but participant ids and figures
goes into the mail: no names, no time zones, no file paths. The SMTP settings
are ``[digest]`` of ``study.toml``; the password comes from
``IRISIN_SMTP_PASSWORD`` only.

A send that fails for a transient reason (connection refused or dropped, a
timeout, a 4xx reply) is tried again up to ``[digest] send_attempts`` times;
a permanent one (5xx, authentication) is not. Either way the message is kept
as ``runs/digest-<date>/digest.eml`` first, so a failed send loses nothing and
can be sent by hand.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import polars as pl

from config import Study
from config.study import DigestSection
from models import alerts as alert_rules
from models.participant_table import MAIL_COLUMNS, grid_today, load_participant_table
from store.atomic import write_bytes
from store.sheets import safe_csv_bytes, xlsx_bytes

PASSWORD_ENV = "IRISIN_SMTP_PASSWORD"


class DigestConfigError(ValueError):
    """``[digest]`` cannot send: no recipients or no sender."""


@dataclass(frozen=True)
class Digest:
    """One day's digest: the counts, the lines of the mail and its attachments."""

    day: date
    counts: dict[str, int]
    flagged: dict[str, list[str]]
    table: pl.DataFrame
    subject: str
    body: str

    @property
    def nothing_to_report(self) -> bool:
        return not any(self.counts.values())

    def attachments(self) -> dict[str, tuple[bytes, str, str]]:
        """File name -> (bytes, maintype, subtype)."""
        stem = f"participants-{self.day:%Y-%m-%d}"
        return {
            f"{stem}.csv": (safe_csv_bytes(self.table), "text", "csv"),
            f"{stem}.xlsx": (
                xlsx_bytes({"participants": self.table}),
                "application",
                "vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        }


def build_digest(study: Study, as_of: date | None = None) -> Digest:
    """The digest of ``study`` as of today (or the replay date ``as_of``), read from its warehouse."""
    result = load_participant_table(study, as_of)
    day = grid_today(study, result.as_of)
    counts = alert_rules.counts_per_rule(result.alerts)
    listed = alert_rules.alert_list(result.alerts)
    flagged = {
        rule.name: listed.filter(pl.col("rule") == rule.name)["participant_id"].to_list()
        for rule in alert_rules.RULES
    }
    table = result.table.with_columns(pl.col("last_data").str.slice(0, 16)).select(MAIL_COLUMNS)
    table = alert_rules.attention_order(
        table.join(
            result.alerts.select("participant_id", "alert_count", "last_local"), on="participant_id"
        )
    ).select(MAIL_COLUMNS)
    total = int((result.alerts["alert_count"] > 0).sum())
    subject = f"[irisin] {study.config.study.name}, {day:%Y-%m-%d}: " + (
        f"{total} of {result.alerts.height} participants flagged" if total else "nothing to report"
    )
    return Digest(
        day,
        counts,
        flagged,
        table,
        subject,
        _body(study, day, counts, flagged, result.alerts.height),
    )


def _body(
    study: Study,
    day: date,
    counts: Mapping[str, int],
    flagged: Mapping[str, list[str]],
    enrolled: int,
) -> str:
    lines = [f"irisin daily digest, {day:%A %Y-%m-%d}, {enrolled} participants on the roster.", ""]
    if not any(counts.values()):
        lines.append("Nothing to report: no participant is flagged by any rule.")
    for rule in alert_rules.RULES:
        ids = flagged[rule.name]
        if ids:
            shown = ", ".join(ids[:100]) + (f" and {len(ids) - 100} more" if len(ids) > 100 else "")
            lines.append(f"{rule.name}: {counts[rule.name]} participant(s): {shown}")
        else:
            lines.append(f"{rule.name}: 0")
    lines += ["", "Rules:"] + [
        f"  {text}" for text in alert_rules.describe_rules(study.config.alerts)
    ]
    url = study.config.digest.dashboard_url
    lines += [
        "",
        f"Dashboard: {url}" if url else "Dashboard: run `irisin dashboard --study <study folder>`",
    ]
    lines += [
        "Attached: the participant table as CSV and as an Excel workbook (ids and figures only)."
    ]
    return "\n".join(lines) + "\n"


def build_message(digest: Digest, settings: DigestSection) -> EmailMessage:
    """The e-mail of ``digest`` to ``[digest] recipients``."""
    if not settings.recipients:
        raise DigestConfigError(
            "[digest] recipients is empty: list the staff addresses in study.toml"
        )
    if not settings.sender:
        raise DigestConfigError(
            '[digest] sender is empty: set the From address, e.g. sender = "irisin@example.org"'
        )
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    message.set_content(digest.body)
    for name, (content, maintype, subtype) in digest.attachments().items():
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message


def kept_path(study: Study, day: date) -> Path:
    """Where the day's message is kept before it is sent."""
    return study.root / "runs" / f"digest-{day:%Y-%m-%d}" / "digest.eml"


def keep(message: EmailMessage, path: Path) -> Path:
    """Write the message to ``path`` atomically (so a failed send still has it)."""
    write_bytes(path, bytes(message))
    return path


@dataclass(frozen=True)
class SendResult:
    """How sending went: sent or not, after how many attempts, and the last error."""

    sent: bool
    attempts: int
    error: str | None = None


def _transient(error: BaseException) -> bool:
    """A connection problem or a 4xx reply: worth another attempt."""
    if isinstance(error, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(
        error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError | socket.timeout | OSError
    )


def _deliver(
    message: EmailMessage, settings: DigestSection, password: str | None, timeout: float
) -> None:
    host, port = settings.smtp_host, settings.smtp_port
    if settings.smtp_tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if password:
            client.login(settings.smtp_user or settings.sender, password)
        client.send_message(message)


def send(
    message: EmailMessage,
    settings: DigestSection,
    environ: Mapping[str, str],
    *,
    pause: Callable[[float], None] = time.sleep,
    first_wait_seconds: float = 2.0,
    timeout: float = 30.0,
) -> SendResult:
    """Send ``message``, retrying transient failures (waits of 2, 4, 8 ... s); never raises for SMTP trouble."""
    password = environ.get(PASSWORD_ENV) or None
    error: BaseException | None = None
    for attempt in range(1, settings.send_attempts + 1):
        try:
            _deliver(message, settings, password, timeout)
            return SendResult(True, attempt)
        except (smtplib.SMTPException, OSError) as exc:
            error = exc
            if not _transient(exc) or attempt == settings.send_attempts:
                return SendResult(False, attempt, _describe(exc, settings))
            pause(first_wait_seconds * 2 ** (attempt - 1))
    return SendResult(False, settings.send_attempts, _describe(error, settings))


def _describe(error: BaseException | None, settings: DigestSection) -> str:
    where = f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_tls})"
    return f"could not send through {where}: {type(error).__name__}: {error}"


@dataclass(frozen=True)
class DigestRun:
    """What a digest run did: the digest, where the message is kept, and the send (None: nothing sent)."""

    digest: Digest
    kept: Path | None
    result: SendResult | None

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.digest.counts.items())
        if self.result is None:
            return f"digest {self.digest.day}: nothing to report, no mail sent (send_when_nothing = false)"
        if self.result.sent:
            return f"digest {self.digest.day} sent ({counts}) after {self.result.attempts} attempt(s); kept at {self.kept}"
        return f"digest {self.digest.day} NOT sent after {self.result.attempts} attempt(s): {self.result.error}; the message is kept at {self.kept}"


def run_digest(
    study: Study,
    as_of: date | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    pause: Callable[[float], None] = time.sleep,
    first_wait_seconds: float = 2.0,
) -> DigestRun:
    """Build, keep and send the day's digest (or send nothing on a quiet day when so configured)."""
    import os

    settings = study.config.digest
    digest = build_digest(study, as_of)
    if digest.nothing_to_report and not settings.send_when_nothing:
        return DigestRun(digest, None, None)
    message = build_message(digest, settings)
    path = keep(message, kept_path(study, digest.day))
    result = send(
        message,
        settings,
        os.environ if environ is None else environ,
        pause=pause,
        first_wait_seconds=first_wait_seconds,
    )
    return DigestRun(digest, path, result)
