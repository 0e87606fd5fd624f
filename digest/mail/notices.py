"""The mails `digest serve` sends one reader: confirm a signup, welcome, already subscribed.

Owns: the message of each notice (`compose_notice`): headers (From as the issue's,
an encoded Subject, Date, a unique Message-ID, `Auto-Submitted`, and on the mails
to a reader on the list the same `List-Id`, `List-Unsubscribe` and
`List-Unsubscribe-Post` as the issue), multipart/alternative in UTF-8 with 7-bit
transfer encodings, CRLF line ends, and the DKIM signature; and handing one
notice to `[smtp]` or the outbox folder (`send_notice`), each failure one
`DigestError` with its reason.

Doesn't own: rendering (`digest.render.notice`: templates, premailer), the
links and their tokens (the caller builds them with `digest.tokens`), when a
notice is due or how often an address may get one (the web app), nor the
issue's mails (`digest.mail.compose`, `digest.mail.deliver`).

Privacy: log lines and error messages name the subscriber by id, never by
address, and never carry a link (links hold the reader's tokens). A refusal's
reply text has the address taken out, since servers often repeat it.

Who typed what: a confirmation mail goes to an address typed into a public
form by anyone, so it carries no display name (the name came from the same
stranger, and a To: line is shown to the recipient) and nothing else the form
gave; welcome and already-subscribed go to a reader whose address was
confirmed, with the stored name, if it is still one clean line.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from email import policy
from email.utils import format_datetime, parseaddr
from secrets import token_hex

from digest.config import Settings
from digest.credentials import Secrets
from digest.errors import AddressError, DeliveryError
from digest.mail.compose import MAIL_POLICY, MAIL_POLICY_UTF8, to_header
from digest.mail.signing import Signer, make_signer
from digest.mail.transport import ConnectionLost, Refused, make_transport
from digest.models import Subscriber
from digest.render.notice import NoticeKind, notice_view, render_notice
from digest.state.subscribers import clean_name, normalize_address

__all__ = ["NoticeKind", "NoticeLinks", "compose_notice", "send_notice"]

log = logging.getLogger(__name__)

CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class NoticeLinks:
    """The reader's links in one notice; each an absolute http(s) URL."""

    action: str  # CONFIRM: the confirm page URL; else ""
    preferences: str  # the reader's preferences page
    # One-click unsubscribe. WELCOME and ALREADY carry it in List-Unsubscribe and
    # List-Unsubscribe-Post as the issue does; CONFIRM does not (not on the list yet).
    unsubscribe: str
    latest_issue: str | None = None  # WELCOME: the newest issue's web page, if any
    expires_hours: int = 48  # CONFIRM: the action link's lifetime, as the mail states it


def _recipient(subscriber: Subscriber, kind: NoticeKind) -> Subscriber:
    """The subscriber as the To: line shows it. The address must be one plain
    address (a line break in it would start a header of its own)."""
    try:
        normalize_address(subscriber.email)
    except AddressError:
        # Not `from e`: AddressError's message quotes the address.
        raise AddressError(
            f"subscriber {subscriber.id}: not one plain address; no notice sent"
        ) from None
    name = ""
    if kind is not NoticeKind.CONFIRM and subscriber.name:
        try:
            name = clean_name(subscriber.name)
        except AddressError:
            name = ""  # a name that is not one clean line is left out, not repaired
        if "=?" in name:
            # It would be sent unquoted and shown decoded, as whatever it encodes.
            name = ""
    return replace(subscriber, name=name)


def _domain(sender: str) -> str:
    """The From address's domain, in ASCII (IDNA) as Message-ID and List-Id need."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    try:
        return domain.encode("idna").decode("ascii") if domain else "localhost"
    except UnicodeError:
        return "localhost"


def _header_lines(items: list[tuple[str, str]], mail_policy: policy.Policy) -> bytes:
    # The header registry encodes non-ASCII words (RFC 2047, or raw UTF-8 under
    # SMTPUTF8), folds long lines, and refuses CR/LF inside a value.
    out = []
    for name, value in items:
        header = mail_policy.header_store_parse(name, value)
        out.append(mail_policy.fold_binary(name, header[1]))
    return b"".join(out)


def _body(text: str) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding, encoded body): the smaller of quoted-printable
    and base64, both 7-bit (CJK text favours base64, markup quoted-printable)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    qp = binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)
    # Text in base64 is in canonical form: CRLF line ends (RFC 2045 6.8).
    b64 = base64.encodebytes(data.replace(b"\n", CRLF)).replace(b"\n", CRLF)
    return (b"base64", b64) if len(b64) < len(qp) else (b"quoted-printable", qp)


def compose_notice(
    settings: Settings,
    subscriber: Subscriber,
    kind: NoticeKind,
    links: NoticeLinks,
    now: datetime,
    *,
    signer: Signer | None = None,
) -> bytes:
    """The whole RFC 5322 message (multipart/alternative: text + inlined HTML),
    CRLF line ends, DKIM-signed when `signer` is given.

    In the reader's language (`subscriber.language`, else `[digest] language`).
    Raises `AddressError` when the address is not one plain address,
    `TemplateError` for a broken template of `[templates] dir`, and ValueError for
    a missing or non-http(s) link or a naive `now` (the caller's mistakes).
    """
    kind = NoticeKind(kind)
    recipient = _recipient(subscriber, kind)
    view = notice_view(
        settings,
        kind,
        subscriber.language,
        now,
        action=links.action,
        preferences=links.preferences,
        unsubscribe=links.unsubscribe,
        latest_issue=links.latest_issue,
        expires_hours=links.expires_hours,
    )
    rendered = render_notice(settings, view)

    domain = _domain(settings.sender)
    # An internationalised address (山田@example.jp) travels only over SMTPUTF8,
    # whose headers are raw UTF-8; encoded words are not allowed in an address.
    mail_policy = MAIL_POLICY_UTF8 if not recipient.email.isascii() else MAIL_POLICY
    headers = [
        _header_lines([("From", settings.sender)], mail_policy),
        to_header(recipient),
        _header_lines([("Subject", rendered.subject)], mail_policy),
        f"Date: {format_datetime(now)}\r\n".encode("ascii"),
        # Unique per notice; names the subscriber by id, never by address.
        f"Message-ID: <notice.{kind}.{subscriber.id}.{token_hex(8)}@{domain}>\r\n".encode("ascii"),
        # Every notice is sent by a program in answer to a web form or a click, not
        # to a mail: vacation responders must stay quiet (RFC 3834), Exchange too.
        b"Auto-Submitted: auto-generated\r\n",
        b"X-Auto-Response-Suppress: OOF, AutoReply\r\n",
    ]
    if view.is_list_mail:
        # The reader is on the list: the same list headers as the issue, so a
        # mail client's unsubscribe button works here too (RFC 2919, 2369, 8058).
        headers += [
            f"List-Id: <weekly.{domain}>\r\n".encode("ascii"),
            f"List-Unsubscribe: <{view.unsubscribe_url}>\r\n".encode("ascii"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        ]
    # Which notice it is, for the outbox folder's file names and for mail filters.
    headers.append(f"X-Digest-Notice: {kind}\r\n".encode("ascii"))

    # "=_" cannot occur in quoted-printable or base64 text, so never in a body.
    boundary = f"=_digest_{token_hex(12)}".encode("ascii")
    text_cte, text = _body(rendered.text)
    html_cte, html = _body(rendered.html)
    data = b"".join(
        [
            *headers,
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n',
            CRLF,
            b"--" + boundary + CRLF,
            b'Content-Type: text/plain; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: " + text_cte + CRLF,
            CRLF,
            text,
            CRLF,
            b"--" + boundary + CRLF,
            b'Content-Type: text/html; charset="utf-8"\r\n',
            b"Content-Transfer-Encoding: " + html_cte + CRLF,
            CRLF,
            html,
            CRLF,
            b"--" + boundary + b"--" + CRLF,
        ]
    )
    return signer.sign(data) if signer is not None else data


def _scrubbed(reason: str, address: str) -> str:
    """A server's reply without the reader's address (servers often repeat it)."""
    lowered = reason.casefold()
    needle = address.casefold()
    out, start = [], 0
    while (found := lowered.find(needle, start)) >= 0:
        out += [reason[start:found], "<the recipient>"]
        start = found + len(needle)
    return "".join([*out, reason[start:]])


def send_notice(
    settings: Settings,
    secrets: Secrets,
    subscriber: Subscriber,
    kind: NoticeKind,
    links: NoticeLinks,
    now: datetime,
) -> None:
    """Compose and send one notice over `[smtp]` (or write it into `[outbox] dir`),
    DKIM-signed when `[dkim]` is configured. One connection per call.

    Raises `DeliveryError` when it could not be handed over (a refusal, with the
    server's reply; a broken connection; no connection, TLS or AUTH failure),
    `SecretMissing` when `[dkim]` has no usable key, `WriteError` when the outbox
    cannot be written, and what `compose_notice` raises. Never logs the address
    or the links.
    """
    kind = NoticeKind(kind)
    data = compose_notice(
        settings, subscriber, kind, links, now, signer=make_signer(settings, secrets)
    )
    transport = make_transport(settings, secrets)
    what = f"{kind} notice to subscriber {subscriber.id}"
    try:
        transport.send(settings.sender, subscriber.email, data)
    except Refused as e:
        reply = _scrubbed(f"{e.code} {e.reply}", subscriber.email)
        # Not `from e`: the chained exception would quote the reply unscrubbed.
        raise DeliveryError(f"{what}: {transport.description} refused it: {reply}") from None
    except ConnectionLost as e:
        when = (
            "after the message was handed over (it may have arrived)"
            if e.handed_over
            else "before the message was handed over"
        )
        raise DeliveryError(
            f"{what}: the connection to {transport.description} broke {when}: "
            f"{_scrubbed(str(e), subscriber.email)}"
        ) from None
    finally:
        transport.close()
    log.info("%s sent through %s", what, transport.description)
