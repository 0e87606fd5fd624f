"""Mail messages for one issue.

Owns: turning an issue already rendered once (HTML with CSS inlined, text part)
into the MIME message for one subscriber: multipart/alternative in UTF-8, a
correctly encoded Subject, Message-ID, Date, RFC 8058 List-Unsubscribe headers,
serialised with the SMTP policy (CRLF). Per subscriber only the recipient and the
unsubscribe link change; nothing is rendered or inlined again here.
Doesn't own: rendering (`digest.render`) or sending (`digest.deliver`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr, quote

from digest.config import Settings
from digest.models import Subscriber
from digest.render import RenderedIssue, personalize
from digest.unsubscribe import make_token, unsubscribe_mailto, unsubscribe_url

# 7-bit transfer encodings (quoted-printable / base64) so that any relay takes the
# bytes as they are, whether or not it offers 8BITMIME.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit")
# For an internationalised recipient (山田@example.jp): headers in raw UTF-8, as
# SMTPUTF8 (RFC 6532) requires; an encoded word is not allowed inside an address.
MAIL_POLICY_UTF8 = MAIL_POLICY.clone(utf8=True)


@dataclass(frozen=True, slots=True)
class PreparedIssue:
    """Everything shared by all messages of one issue."""

    week: str
    rendered: RenderedIssue
    sender: str
    sender_domain: str
    list_id: str
    unsubscribe_base: str
    unsubscribe_mailbox: str


def prepare(week: str, rendered: RenderedIssue, settings: Settings) -> PreparedIssue:
    _, address = parseaddr(settings.sender)
    domain = address.rpartition("@")[2] or "localhost"
    return PreparedIssue(
        week=week,
        rendered=rendered,
        sender=settings.sender,
        sender_domain=domain,
        list_id=f"<weekly.{domain}>",
        unsubscribe_base=settings.unsubscribe_url,
        unsubscribe_mailbox=settings.unsubscribe_mailto,
    )


def recipient_header(subscriber: Subscriber) -> Address | str:
    if not subscriber.email.isascii():
        # The header registry's Address refuses a non-ASCII local part; under the
        # UTF-8 policy the plain string is written as it is, which SMTPUTF8 allows.
        if subscriber.name:
            return f'"{quote(subscriber.name)}" <{subscriber.email}>'
        return subscriber.email
    if subscriber.name:
        return Address(display_name=subscriber.name, addr_spec=subscriber.email)
    return subscriber.email


def compose(
    prepared: PreparedIssue, subscriber: Subscriber, key: bytes, now: datetime
) -> EmailMessage:
    """The message for one subscriber. `key` signs the unsubscribe token."""
    token = make_token(key, subscriber)
    https_link = unsubscribe_url(prepared.unsubscribe_base, token)
    mailto_link = unsubscribe_mailto(prepared.unsubscribe_mailbox, token)
    rendered = prepared.rendered

    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = prepared.sender
    msg["To"] = recipient_header(subscriber)
    # The header registry refuses CR/LF in a value; the renderer already made it one line.
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(
        idstring=f"{prepared.week}.{subscriber.id}", domain=prepared.sender_domain
    )
    msg["List-Id"] = prepared.list_id
    msg["List-Unsubscribe"] = f"<{https_link}>, <{mailto_link}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Digest-Issue"] = prepared.week
    msg.set_content(
        personalize(rendered.text, https_link, html=False), subtype="plain", charset="utf-8"
    )
    msg.add_alternative(
        personalize(rendered.html_email, https_link, html=True), subtype="html", charset="utf-8"
    )
    return msg


def to_bytes(msg: EmailMessage, *, utf8: bool = False) -> bytes:
    """Serialise with CRLF line ends, as SMTP wants; `utf8` for SMTPUTF8 recipients."""
    return msg.as_bytes(policy=MAIL_POLICY_UTF8 if utf8 else MAIL_POLICY)
