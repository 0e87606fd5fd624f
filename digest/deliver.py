"""Sending one issue to every active subscriber, exactly once.

Owns: SMTP sessions (one connection reused for the whole batch; STARTTLS, SSL or
plain; AUTH when a username is set), the outbox folder used when no `[smtp]` is
configured, and the delivery ledger discipline: a row per (issue, subscriber) is
committed right after the server's 250 reply, so a rerun never sends it again.
Doesn't own: composing messages (`digest.compose`) or deciding which week to
send (`digest.pipeline`).

Outcomes per subscriber:
- accepted (250): ledger row `sent`.
- refused permanently (5xx at RCPT or DATA): ledger row `failed` with the reply.
- refused temporarily (4xx): no row; the next run tries again.
- connection lost: reconnect once and retry that subscriber; a second loss
  stops the run (rows committed so far stand; a rerun resumes).
- authentication or TLS failure: stops the run before anyone is failed.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from digest.compose import PreparedIssue, compose, to_bytes
from digest.config import SmtpSettings
from digest.errors import DeliveryError
from digest.files import write_atomic
from digest.models import Subscriber
from digest.signing import Signer
from digest.store import Store

log = logging.getLogger(__name__)


class Refused(Exception):
    """The server refused one message; `code` is its SMTP reply code."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class Transport(Protocol):
    description: str

    def send(self, sender: str, recipient: str, data: bytes, msg: EmailMessage) -> None: ...

    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection, opened lazily and reused for every message."""

    def __init__(self, settings: SmtpSettings, password: str | None) -> None:
        self.settings = settings
        self.password = password
        self.description = f"smtp://{settings.host}:{settings.port} ({settings.security})"
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.username and not self.password:
            raise DeliveryError(
                f"{self.description}: [smtp] username is set but DIGEST_SMTP_PASSWORD is not",
                hint="put the password in .env or the environment",
            )
        context = ssl.create_default_context()
        try:
            conn: smtplib.SMTP
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryError(f"{self.description}: cannot connect: {e}") from e
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if s.username and self.password:
                conn.login(s.username, self.password)
        except BaseException as e:
            conn.close()  # a failed session must not leak its socket
            if isinstance(e, smtplib.SMTPAuthenticationError):
                raise DeliveryError(
                    f"{self.description}: authentication failed: "
                    f"{e.smtp_code} {_reply(e.smtp_error)}",
                    hint="check [smtp] username and DIGEST_SMTP_PASSWORD",
                ) from e
            if isinstance(e, ssl.SSLError | smtplib.SMTPNotSupportedError):
                raise DeliveryError(
                    f"{self.description}: TLS failed: {e}", hint="check [smtp] security and port"
                ) from e
            if isinstance(e, OSError | smtplib.SMTPException):
                raise DeliveryError(f"{self.description}: cannot connect: {e}") from e
            raise
        return conn

    def send(self, sender: str, recipient: str, data: bytes, msg: EmailMessage) -> None:
        if self._conn is None:
            self._conn = self._connect()
        options: list[str] = []
        if not recipient.isascii():
            # An internationalised address (山田@example.jp) can only travel over
            # SMTPUTF8 (RFC 6531); without it this one recipient fails, the rest go on.
            if not self._conn.has_extn("smtputf8"):
                raise Refused(
                    553,
                    f"{self.description} does not offer SMTPUTF8, which the address "
                    f"{recipient} needs",
                )
            options = ["SMTPUTF8"]
        try:
            self._conn.sendmail(
                parseaddr(sender)[1], [recipient], data, rcpt_options=[], mail_options=options
            )
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = e.recipients[recipient]
            raise Refused(code, _reply(reply)) from e
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
            if e.smtp_code == 421:  # the server is closing the connection
                self.close()
                raise smtplib.SMTPServerDisconnected(_reply(e.smtp_error)) from e
            raise Refused(e.smtp_code, _reply(e.smtp_error)) from e
        except (smtplib.SMTPServerDisconnected, OSError):
            self._conn = None
            raise

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None


class OutboxTransport:
    """Writes each message as an .eml file, for setups without SMTP (and the demo)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"outbox folder {folder}"

    def send(self, sender: str, recipient: str, data: bytes, msg: EmailMessage) -> None:
        week = str(msg.get("X-Digest-Issue", "test"))
        safe = re.sub(r"[^A-Za-z0-9._@-]+", "_", recipient)
        write_atomic(self.folder / week / f"{safe}.eml", data)

    def close(self) -> None:
        pass


def _reply(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


@dataclass
class DeliveryReport:
    week: str
    transport: str
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, reply)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    already: int = 0  # subscribers with a ledger row from an earlier run
    suppressed: list[str] = field(default_factory=list)  # unsubscribed during the run
    dry_run: bool = False
    empty: bool = False  # the issue had no stories, so nothing was sent

    def summary_lines(self) -> list[str]:
        if self.empty:
            return [f"{self.week}: no stories this week; nothing sent (never a blank email)"]
        verb = "would send" if self.dry_run else "sent"
        lines = [
            f"{self.week}: {verb} {len(self.sent)}, failed {len(self.failed)}, "
            f"deferred {len(self.deferred)}, already sent earlier {self.already}, "
            f"unsubscribed meanwhile {len(self.suppressed)} "
            f"(via {self.transport})"
        ]
        lines += [f"  failed   {addr}: {why}" for addr, why in self.failed]
        lines += [f"  deferred {addr}: {why}" for addr, why in self.deferred]
        return lines


def deliver(
    store: Store,
    prepared: PreparedIssue,
    transport: Transport,
    key: bytes,
    clock: Callable[[], datetime],
    *,
    dry_run: bool = False,
    signer: Signer | None = None,
) -> DeliveryReport:
    """Send the issue to every active subscriber without a ledger row for it.

    With a `signer`, every message carries a DKIM signature.
    """
    week = prepared.week
    pending = store.pending_subscribers(week)
    report = DeliveryReport(
        week=week,
        transport=transport.description,
        dry_run=dry_run,
        already=len(store.deliveries(week)),
    )
    if dry_run:
        report.sent = [s.email for s in pending]
        return report
    try:
        for subscriber in pending:
            _deliver_one(store, prepared, transport, key, clock, subscriber, report, signer)
    finally:
        transport.close()
    return report


def _deliver_one(
    store: Store,
    prepared: PreparedIssue,
    transport: Transport,
    key: bytes,
    clock: Callable[[], datetime],
    subscriber: Subscriber,
    report: DeliveryReport,
    signer: Signer | None,
) -> None:
    # Checked again just before sending: someone may have unsubscribed (or started
    # bouncing) since the batch began.
    current = store.subscriber(subscriber.id)
    if current is None or current.status != "active":
        report.suppressed.append(subscriber.email)
        return
    msg = compose(prepared, subscriber, key, clock())
    data = to_bytes(msg, utf8=not subscriber.email.isascii())
    if signer is not None:
        data = signer.sign(data)
    for attempt in (1, 2):
        try:
            transport.send(prepared.sender, subscriber.email, data, msg)
        except Refused as e:
            if e.permanent:
                store.record_delivery(
                    prepared.week, subscriber.id, "failed", clock(), detail=str(e)
                )
                report.failed.append((subscriber.email, str(e)))
                log.warning("%s refused permanently: %s", subscriber.email, e)
            else:
                report.deferred.append((subscriber.email, str(e)))
                log.warning("%s deferred: %s", subscriber.email, e)
            return
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            if attempt == 2:
                raise DeliveryError(
                    f"{transport.description}: connection lost twice while sending to "
                    f"{subscriber.email}: {e}",
                    hint="run `digest send` again: subscribers already served are skipped",
                ) from e
            log.warning("connection lost (%s); reconnecting", e)
            continue
        store.record_delivery(
            prepared.week, subscriber.id, "sent", clock(), message_id=str(msg["Message-ID"])
        )
        report.sent.append(subscriber.email)
        return


def send_test_copy(
    prepared: PreparedIssue,
    transport: Transport,
    key: bytes,
    address: str,
    now: datetime,
    signer: Signer | None = None,
) -> str:
    """Send one copy to `address` (not a subscriber row: the ledger is untouched)."""
    probe = Subscriber(id=0, email=address, name="")
    msg = compose(prepared, probe, key, now)
    data = to_bytes(msg, utf8=not address.isascii())
    if signer is not None:
        data = signer.sign(data)
    try:
        transport.send(prepared.sender, address, data, msg)
    except Refused as e:
        raise DeliveryError(f"{address}: refused: {e}") from e
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise DeliveryError(f"{transport.description}: {e}") from e
    finally:
        transport.close()
    return str(msg["Message-ID"])
