"""`digest inbox`: the mail that comes back, read and acted on once.

Owns: reading inbound messages from a source (a Maildir folder, an mbox file,
one message on standard input for an MTA pipe, or the `[inbox]` IMAP folder
over TLS), acting on what `digest.mail.inbound.classify` says each one is, and
the report a person reads:

- hard bounce: counted like a 5xx refusal during the SMTP session
  (`Store.record_bounce`, `bouncing` after `[delivery] bounce_after`);
- soft bounce: recorded as handled; nothing changes;
- complaint (ARF): the reader is suppressed for good (`complained`);
- unsubscribe mail: only with a valid signed token (`digest.tokens`): a From:
  line is anybody's to write;
- auto-reply, anything else: ignored, and said so.

Who a report is about: the token of our `List-Unsubscribe` header in the
returned original when there is one (checked; a token that does not verify is
not acted on at all), else the addresses the report names, when they are
subscribers. Each message is handled once, by Message-ID (or a hash of its
bytes): `Store.inbox_seen` / `mark_inbox_seen`, whose outcome text never holds an
address (an erased reader leaves nothing there).

Maildir and mbox are only read, never changed (what was handled is remembered
in the database). Over IMAP, messages are fetched without setting \\Seen
(BODY.PEEK) and, once handled, a bounce, complaint, unsubscribe or auto-reply
is flagged \\Seen: the next run asks only for unseen mail. Nothing is moved or
deleted (that is the mail server's job: a sieve rule or an expiry), and mail
digest does not recognise (a reader's reply) stays unseen for a person.

Doesn't own: what a message is (`digest.mail.inbound`), the SQL
(`digest.state.readers`), tokens (`digest.tokens`), the settings (`digest.config`).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import mailbox
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from digest.config import InboxSettings, Settings
from digest.credentials import ENV_IMAP_PASSWORD, Secrets
from digest.errors import AddressError, ConfigError, DigestError
from digest.logs import IN_SUMMARY
from digest.mail.inbound import MAX_MESSAGE_BYTES, Inbound, Kind, classify
from digest.models import Subscriber
from digest.state.store import Store
from digest.state.subscribers import normalize_address
from digest.tokens import verify_token

log = logging.getLogger(__name__)

# Kinds whose message, once handled, is flagged \Seen over IMAP; the rest stays
# unseen for a person to read.
FLAGGED_SEEN = frozenset(
    {Kind.HARD_BOUNCE, Kind.SOFT_BOUNCE, Kind.COMPLAINT, Kind.UNSUBSCRIBE, Kind.AUTO_REPLY}
)
ALREADY = "already handled"
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as a source gives it: where it is, and its bytes (None when
    it could not be read: `error` says why)."""

    where: str
    raw: bytes | None
    error: str = ""


class Source(Protocol):
    """Where inbound mail comes from. `done` is told what each message was."""

    name: str

    def messages(self) -> Iterator[Incoming]: ...

    def done(self, incoming: Incoming, kind: Kind) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of one message. `outcome` is for a person and may name an
    address; `stored` is what the database keeps, and names none."""

    where: str
    kind: str  # a `Kind`, or ALREADY, or UNREADABLE
    status: str
    outcome: str
    stored: str

    def line(self) -> str:
        what = f"{self.kind} {self.status}" if self.status else self.kind
        return f"{self.where}: {what}: {self.outcome}"


@dataclass
class InboxReport:
    source: str
    handled: list[Handled] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(1 for h in self.handled if h.kind in kinds)

    def summary(self) -> str:
        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count == 1 else many}"

        parts = [
            n(self.count(Kind.HARD_BOUNCE), "hard bounce", "hard bounces"),
            f"{self.count(Kind.SOFT_BOUNCE)} soft",
            n(self.count(Kind.COMPLAINT), "complaint", "complaints"),
            n(self.count(Kind.UNSUBSCRIBE), "unsubscribe", "unsubscribes"),
            f"{self.count(Kind.AUTO_REPLY, Kind.UNRECOGNISED)} ignored",
            f"{self.count(ALREADY)} already handled",
        ]
        if self.count(UNREADABLE):
            parts.append(f"{self.count(UNREADABLE)} unreadable")
        total = n(len(self.handled), "message", "messages")
        return f"inbox: {total}: {', '.join(parts)}"

    def lines(self) -> list[str]:
        return [h.line() for h in self.handled] + [self.summary()]


# -- acting on one message -----------------------------------------------------------


def handle(
    incoming: Incoming, store: Store, key: bytes, now: datetime, bounce_after: int
) -> tuple[Handled, Kind | None]:
    """Classify one message and act on it, once. Returns what was done, and the
    message's kind (None when it could not be read)."""
    if incoming.raw is None:
        reason = f"cannot read it: {incoming.error}; skipped"
        return Handled(incoming.where, UNREADABLE, "", reason, reason), None
    inbound = classify(incoming.raw)
    if store.inbox_seen(inbound.key):
        return Handled(incoming.where, ALREADY, "", inbound.key, ""), inbound.kind
    outcome, stored = _act(inbound, store, key, now, bounce_after)
    # Acted on first, then recorded: a run killed in between acts again on the
    # next run (an unsubscribe or complaint twice is the same; a hard bounce may
    # count twice), rather than never.
    summary = f"{inbound.kind} {inbound.status}".rstrip()
    store.mark_inbox_seen(inbound.key, f"{summary}: {stored}", now)
    if inbound.detail and inbound.kind is not Kind.UNSUBSCRIBE:
        outcome = f"{outcome} ({inbound.detail})"
    return Handled(incoming.where, inbound.kind, inbound.status, outcome, stored), inbound.kind


def _act(
    inbound: Inbound, store: Store, key: bytes, now: datetime, bounce_after: int
) -> tuple[str, str]:
    """(what was done, naming addresses; the same without them)."""
    if inbound.kind in (Kind.AUTO_REPLY, Kind.UNRECOGNISED):
        return "ignored", "ignored"
    if inbound.kind is Kind.UNSUBSCRIBE:
        return _unsubscribe(inbound, store, key, now)
    targets, problem = _who(inbound, store, key)
    if problem:
        # IN_SUMMARY: `digest inbox` prints a line per message, saying the same.
        log.warning("inbox: %s: %s %s", inbound.key, inbound.kind, problem, extra=IN_SUMMARY)
        return problem, problem
    if not targets:
        return "names no recipient: not acted on", "no recipient"
    done: list[str] = []
    kept: list[str] = []
    for email in targets:
        before = store.subscriber_by_email(email)
        if before is None:
            done.append(f"{email}: not a subscriber")
            kept.append("not a subscriber")
            continue
        if inbound.kind is Kind.COMPLAINT:
            store.record_complaint(email, now)
            changed = before.status != "complained"
            what = "suppressed (complained)" if changed else "already complained"
        else:
            permanent = inbound.kind is Kind.HARD_BOUNCE
            after = store.record_bounce(email, now, permanent=permanent, bounce_after=bounce_after)
            if not permanent:
                what = f"nothing changes (still {after})"
            elif after == "bouncing" and before.status != "bouncing":
                what = "marked bouncing"
            else:
                what = f"bounce counted (still {after})"
        done.append(f"{email}: {what}")
        kept.append(what)
    return "; ".join(done), "; ".join(dict.fromkeys(kept))


def _who(inbound: Inbound, store: Store, key: bytes) -> tuple[list[str], str]:
    """The subscribers' addresses a bounce or complaint is about, or why none."""
    if inbound.token:
        subscriber = _verified(inbound.token, store, key)
        if subscriber is None:
            return [], "carries an unsubscribe token that does not verify: not acted on"
        return [subscriber.email], ""
    addresses: list[str] = []
    for raw in inbound.recipients:
        try:
            address = normalize_address(raw)
        except AddressError:
            continue  # not an address a subscriber can have
        if address not in addresses:
            addresses.append(address)
    return addresses, ""


def _verified(token: str, store: Store, key: bytes) -> Subscriber | None:
    return verify_token(key, token, store.subscriber, "unsubscribe")


def _unsubscribe(inbound: Inbound, store: Store, key: bytes, now: datetime) -> tuple[str, str]:
    sender = inbound.recipients[0] if inbound.recipients else "(no From)"
    if not inbound.token:
        log.warning(
            "inbox: %s: unsubscribe mail from %s without a token",
            inbound.key,
            sender,
            extra=IN_SUMMARY,
        )
        why = f"{inbound.detail}: not acted on (a From: line is anybody's to write)"
        return f"from {sender}: {why}", "no valid token: not acted on"
    subscriber = _verified(inbound.token, store, key)
    if subscriber is None:
        log.warning(
            "inbox: %s: unsubscribe token from %s does not verify",
            inbound.key,
            sender,
            extra=IN_SUMMARY,
        )
        return (
            f"from {sender}: the token does not verify (forged, or of a reader since "
            "forgotten): not acted on",
            "no valid token: not acted on",
        )
    if store.unsubscribe(subscriber.id, now):
        return f"{subscriber.email}: unsubscribed", "unsubscribed"
    return f"{subscriber.email}: already {subscriber.status}", f"already {subscriber.status}"


def read_inbox(
    source: Source, settings: Settings, key: bytes, store: Store, now: datetime
) -> InboxReport:
    """Handle every message of `source`; a message that cannot be read is
    reported and skipped. A source that cannot be read at all raises `DigestError`."""
    report = InboxReport(source.name)
    try:
        for incoming in source.messages():
            handled, kind = handle(incoming, store, key, now, settings.delivery.bounce_after)
            report.handled.append(handled)
            if kind is not None:
                source.done(incoming, kind)
    finally:
        source.close()
    return report


# -- sources -------------------------------------------------------------------------


def open_source(
    source: str | None, settings: Settings, secrets: Secrets, stdin: BinaryIO
) -> Source:
    """The source a `digest inbox [SOURCE]` names: `-` standard input, a folder
    (Maildir), a file (mbox); none: `[inbox]` over IMAP."""
    if source == "-":
        return StdinSource(stdin)
    if source is None:
        if settings.inbox is None:
            raise ConfigError(
                "missing: `digest inbox` without a SOURCE reads the [inbox] IMAP folder",
                file=str(settings.source),
                key="inbox",
                hint="add [inbox] with host and username (password: "
                f"{ENV_IMAP_PASSWORD} in .env), or give a Maildir folder, an mbox file or -",
            )
        return ImapSource(settings.inbox, secrets.require_imap_password())
    path = Path(source)
    if path.is_dir():
        return MaildirSource(path)
    if path.is_file():
        return MboxSource(path)
    what = "does not exist" if not path.exists() else "is neither a folder nor a file"
    raise DigestError(
        f"{path}: {what}",
        hint="give a Maildir folder (with cur/ and new/), an mbox file, or - for one "
        "message on standard input",
    )


class StdinSource:
    """One message on standard input, as an MTA pipe hands it over (Postfix
    `| digest inbox -`); an mbox `From ` line in front of it is dropped."""

    name = "stdin"

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def messages(self) -> Iterator[Incoming]:
        try:
            raw = self._stream.read(MAX_MESSAGE_BYTES + 1)
        except OSError as e:
            raise DigestError(f"standard input: cannot read: {e.strerror or e}") from e
        if raw.startswith(b"From "):
            raw = raw.partition(b"\n")[2]
        yield Incoming("stdin", raw)

    def done(self, incoming: Incoming, kind: Kind) -> None:
        pass

    def close(self) -> None:
        pass


class MaildirSource:
    """A Maildir folder (`cur/`, `new/`), read only."""

    def __init__(self, path: Path) -> None:
        if not ((path / "cur").is_dir() and (path / "new").is_dir()):
            raise DigestError(
                f"{path}: not a Maildir folder (it has no cur/ and new/)",
                hint="name the Maildir itself (e.g. ~/Maildir or ~/Maildir/.bounces), "
                "or an mbox file",
            )
        self.name = str(path)
        self._box = mailbox.Maildir(path, factory=None, create=False)

    def messages(self) -> Iterator[Incoming]:
        try:
            keys = sorted(self._box.keys())
        except OSError as e:
            raise DigestError(f"{self.name}: cannot read: {e.strerror or e}") from e
        for name in keys:
            try:
                yield Incoming(name, self._box.get_bytes(name))
            except (OSError, KeyError) as e:  # removed meanwhile, or unreadable
                yield Incoming(name, None, _why(e))

    def done(self, incoming: Incoming, kind: Kind) -> None:
        pass

    def close(self) -> None:
        pass


class MboxSource:
    """An mbox file, read only, under its lock (`flock` and a `.lock` file, as
    mail delivery agents take it) so a message being appended is never half read."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        try:
            with path.open("rb") as f:
                start = f.read(5)
        except OSError as e:
            raise DigestError(f"{path}: cannot read: {e.strerror or e}") from e
        if start and start != b"From ":
            raise DigestError(
                f"{path}: not an mbox file (it does not start with a 'From ' line)",
                hint=f"for one message in a file, use `digest inbox - < {path}`",
            )
        self._box = mailbox.mbox(path, factory=None, create=False)
        self._locked = False

    def messages(self) -> Iterator[Incoming]:
        try:
            self._box.lock()
            self._locked = True
        except mailbox.ExternalClashError as e:
            raise DigestError(
                f"{self.name}: locked by another program (mail being delivered?)",
                hint="try again in a minute",
            ) from e
        except OSError as e:  # a folder we may not write a .lock file into
            log.warning("%s: read without its lock: %s", self.name, e.strerror or e)
        try:
            keys = list(self._box.keys())
        except OSError as e:
            raise DigestError(f"{self.name}: cannot read: {e.strerror or e}") from e
        for number, key in enumerate(keys, 1):
            try:
                yield Incoming(f"message {number}", self._box.get_bytes(key))
            except (OSError, KeyError) as e:
                yield Incoming(f"message {number}", None, _why(e))

    def done(self, incoming: Incoming, kind: Kind) -> None:
        pass

    def close(self) -> None:
        if self._locked:
            self._box.unlock()
        self._box.close()


def _why(e: BaseException) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or type(e).__name__


class ImapSource:
    """The `[inbox]` folder over IMAP with TLS (certificate and host name checked)."""

    def __init__(self, settings: InboxSettings, password: str) -> None:
        self.name = f"imaps://{settings.host}:{settings.port}/{settings.folder}"
        self._settings = settings
        self._conn = self._open(settings, password)

    def _open(self, s: InboxSettings, password: str) -> imaplib.IMAP4_SSL:
        where = f"[inbox] {s.host}:{s.port}"
        try:
            conn = imaplib.IMAP4_SSL(
                s.host, s.port, ssl_context=ssl.create_default_context(), timeout=s.timeout
            )
        except ssl.SSLCertVerificationError as e:
            raise DigestError(
                f"{where}: TLS failed: {e.verify_message}",
                hint="the server's certificate must be valid for [inbox] host; a private CA "
                "is trusted through SSL_CERT_FILE",
            ) from e
        except ssl.SSLError as e:
            raise DigestError(
                f"{where}: TLS failed: {e}",
                hint="[inbox] speaks IMAP over TLS (port 993), not STARTTLS; check host and port",
            ) from e
        except (OSError, imaplib.IMAP4.error) as e:
            raise DigestError(
                f"{where}: cannot connect: {e}", hint="check [inbox] host and port"
            ) from e
        try:
            conn.login(s.username, password)
            status, data = conn.select(_mailbox_name(s.folder))
            if status != "OK":
                raise DigestError(
                    f"{where}: cannot open folder {s.folder!r}: {_imap_text(data)}",
                    hint="check [inbox] folder (its IMAP name, e.g. INBOX or INBOX.bounces)",
                )
        except imaplib.IMAP4.error as e:
            _logout(conn)
            raise DigestError(
                f"{where}: login as {s.username!r} refused: {e}",
                hint=f"check [inbox] username and {ENV_IMAP_PASSWORD}",
            ) from e
        except (OSError, DigestError) as e:
            _logout(conn)
            if isinstance(e, DigestError):
                raise
            raise DigestError(f"{where}: connection lost: {e}") from e
        return conn

    def messages(self) -> Iterator[Incoming]:
        try:
            status, data = self._conn.uid("SEARCH", "UNSEEN")
            uids = data[0].split() if status == "OK" and data and data[0] else []
            for uid in uids:
                status, parts = self._conn.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
                where = f"uid {uid.decode('ascii', 'replace')}"
                if status != "OK" or not isinstance(raw, bytes):
                    yield Incoming(where, None, f"FETCH answered {status}")
                else:
                    yield Incoming(where, raw)
        except (OSError, imaplib.IMAP4.error) as e:
            raise DigestError(f"{self.name}: connection lost: {e}") from e

    def done(self, incoming: Incoming, kind: Kind) -> None:
        if kind not in FLAGGED_SEEN:
            return
        uid = incoming.where.removeprefix("uid ")
        try:
            self._conn.uid("STORE", uid, "+FLAGS.SILENT", "(\\Seen)")
        except (OSError, imaplib.IMAP4.error) as e:
            raise DigestError(f"{self.name}: connection lost: {e}") from e

    def close(self) -> None:
        _logout(self._conn)


def _mailbox_name(folder: str) -> str:
    """An IMAP quoted string: imaplib sends arguments as they are."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_text(data: object) -> str:
    if isinstance(data, list) and data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")
    return str(data)


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):  # leaving anyway
        conn.logout()
