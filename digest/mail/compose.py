"""Mail messages for one issue: encoded once, personalised by substitution.

Owns: turning an issue rendered once (HTML with CSS inlined, text part) into the
bytes of each subscriber's message: multipart/alternative in UTF-8 with 7-bit
transfer encodings (any relay takes them, 8BITMIME or not), an encoded Subject,
Message-ID, Date and the RFC 8058 List-Unsubscribe headers, CRLF line ends.

`prepare` encodes both parts once, split around the unsubscribe placeholder;
`compose` then only encodes the subscriber's own few hundred bytes (the link and
the headers that name them) and joins them with the prepared pieces. Nothing is
rendered, inlined or re-encoded per subscriber, so a 170 KB message costs tens of
microseconds rather than milliseconds.
With a DKIM `Signer`, the body hash is taken from the same pieces, each fixed
one canonicalised (relaxed, RFC 6376 3.4.4) once per issue variant
(`EncodedBody.relaxed`): per message only the link's few bytes are canonicalised
and ~135 KB hashed (~0.1 ms); the signer then canonicalises the headers.
Doesn't own: rendering (`digest.render.issue`), sending (`digest.mail.deliver`)
or the signature itself (`digest.mail.signing`).

Every header line stays within RFC 5322's 998 octets: a non-ASCII display name
becomes RFC 2047 encoded words of at most 75 characters, one per folded line
(`to_header`); names are at most 200 characters (`digest.state.subscribers`),
so even an ASCII name with every character escaped fits on one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html as html_lib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, parseaddr, quote

from digest.config import Settings
from digest.mail.signing import Signer, body_hash, relax_body
from digest.models import Subscriber
from digest.render.issue import UNSUBSCRIBE_PLACEHOLDER, RenderedIssue
from digest.tokens import make_token, unsubscribe_mailto, unsubscribe_url

# 7-bit transfer encodings (quoted-printable / base64) so that any relay takes the
# bytes as they are, whether or not it offers 8BITMIME.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit")
# For an internationalised recipient (山田@example.jp): headers in raw UTF-8, as
# SMTPUTF8 (RFC 6532) requires; an encoded word is not allowed inside an address.
MAIL_POLICY_UTF8 = MAIL_POLICY.clone(utf8=True)

CRLF = b"\r\n"
MAX_LINE_OCTETS = 998  # RFC 5322 2.1.1, without the CRLF


class EncodedBody:
    """One MIME part's body, encoded once around the placeholder's places.

    Quoted-printable: each fixed piece is encoded on its own and pieces are
    joined by soft line breaks (`=` CRLF), which decoders remove, so the link
    can be encoded alone and slotted in.
    Base64: pieces can only be joined where the bytes before them are a multiple
    of 3. Each fixed piece is therefore pre-encoded for the three possible
    offsets it may start at, and the 0-2 bytes at its edges travel with the link.
    The smaller encoding of the whole part is used (CJK text favours base64,
    markup quoted-printable).
    """

    def __init__(self, text: str) -> None:
        pieces = [
            p.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
            for p in text.split(UNSUBSCRIBE_PLACEHOLDER)
        ]
        if len(pieces) < 2:
            raise ValueError("the unsubscribe placeholder is not in this document")
        whole = b"".join(pieces)
        qp_size = len(binascii.b2a_qp(whole, istext=True))
        self.cte = "base64" if (len(whole) + 2) // 3 * 4 < qp_size else "quoted-printable"
        self._pieces = pieces
        if self.cte == "quoted-printable":
            self._qp = [_qp(p) for p in pieces]
            # Relaxed form of each piece, for the DKIM body hash. Canonicalising apart
            # is exact: pieces meet at soft line breaks (`=` CRLF), so no run of
            # spaces spans a join, and b2a_qp writes a piece's final space as =20.
            self._qp_relaxed = [relax_body(p) for p in self._qp]
        else:
            # Text in base64 is in canonical form: CRLF line ends (RFC 2045 6.8).
            pieces = self._pieces = [p.replace(b"\n", CRLF) for p in pieces]
            # _b64[i][offset] = (encoded aligned middle of piece i, its leftover tail)
            self._b64 = [[_b64_aligned(p, offset) for offset in range(3)] for p in pieces]

    def encode(self, link: bytes) -> bytes:
        return b"".join(self.pieces(link)[0])

    def pieces(self, link: bytes) -> tuple[list[bytes], list[bytes]]:
        """The encoded part as pieces, and the same pieces in DKIM relaxed form."""
        if self.cte == "quoted-printable":
            soft = b"=" + CRLF
            own = _qp(link)
            own_relaxed = relax_body(own)
            out, relaxed = [self._qp[0]], [self._qp_relaxed[0]]
            for encoded, encoded_relaxed in zip(self._qp[1:], self._qp_relaxed[1:], strict=True):
                out += [soft, own, soft, encoded]
                relaxed += [soft, own_relaxed, soft, encoded_relaxed]
            return out, relaxed
        out_b64: list[bytes] = []
        middle, carry = self._b64[0][0]
        out_b64.append(middle)
        for piece, variants in zip(self._pieces[1:], self._b64[1:], strict=True):
            loose = carry + link
            need = -len(loose) % 3
            if need > len(piece):  # a piece shorter than the gap: carry all of it
                carry = loose + piece
                continue
            out_b64.append(_b64(loose + piece[:need]))
            middle, carry = variants[need]
            out_b64.append(middle)
        out_b64.append(_b64(carry))
        return out_b64, out_b64  # base64 has no spaces: already in relaxed form

    @property
    def first_relaxed(self) -> bytes:
        """The first of `pieces`' relaxed pieces: the same for every link."""
        return self._qp_relaxed[0] if self.cte == "quoted-printable" else self._b64[0][0][0]


def _qp(data: bytes) -> bytes:
    return binascii.b2a_qp(data, istext=True).replace(b"\n", CRLF)


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF) if data else b""


def _b64_aligned(piece: bytes, offset: int) -> tuple[bytes, bytes]:
    if offset > len(piece):
        return b"", b""  # never used: encode() carries such a short piece whole
    end = offset + (len(piece) - offset) // 3 * 3
    return _b64(piece[offset:end]), piece[end:]


@dataclass(frozen=True, slots=True)
class PreparedIssue:
    """Everything shared by all messages of one issue, encoded once."""

    week: str
    rendered: RenderedIssue
    sender: str
    sender_domain: str
    list_id: str
    unsubscribe_base: str
    unsubscribe_mailbox: str
    text_body: EncodedBody
    html_body: EncodedBody
    boundary: str
    shared_headers: bytes  # From … X-Digest-Issue, with encoded words
    shared_headers_utf8: bytes  # the same for SMTPUTF8 recipients
    # DKIM: SHA-256 state after the body's first bytes, up to the text part's first
    # link (the same in every message); each message's body hash continues a copy.
    body_prefix: hashlib._Hash


def _part_head(boundary: bytes, cte: str, subtype: bytes, first: bool) -> list[bytes]:
    """A MIME part's delimiter and headers, up to its body (already relaxed: single
    spaces, none at a line end). Every part but the first follows its body's CRLF."""
    return [
        *([] if first else [CRLF]),
        b"--" + boundary + CRLF,
        b"Content-Type: text/" + subtype + b'; charset="utf-8"\r\n',
        b"Content-Transfer-Encoding: " + cte.encode("ascii") + CRLF,
        CRLF,
    ]


def prepare(week: str, rendered: RenderedIssue, settings: Settings) -> PreparedIssue:
    _, address = parseaddr(settings.sender)
    domain = address.rpartition("@")[2] or "localhost"
    list_id = f"<weekly.{domain}>"
    shared = [
        ("From", settings.sender),
        # The header registry refuses CR/LF in a value; the renderer made it one line.
        ("Subject", rendered.subject),
        ("List-Id", list_id),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("X-Digest-Issue", week),
    ]
    text_body = EncodedBody(rendered.text)
    # "=_" cannot occur in quoted-printable or base64 text, so never in a body.
    boundary = f"=_digest_{secrets.token_hex(12)}"
    prefix = hashlib.sha256()
    for chunk in _part_head(boundary.encode("ascii"), text_body.cte, b"plain", first=True):
        prefix.update(chunk)
    prefix.update(text_body.first_relaxed)
    return PreparedIssue(
        week=week,
        rendered=rendered,
        sender=settings.sender,
        sender_domain=domain,
        list_id=list_id,
        unsubscribe_base=settings.unsubscribe_url,
        unsubscribe_mailbox=settings.unsubscribe_mailto,
        text_body=text_body,
        html_body=EncodedBody(rendered.html_email),
        boundary=boundary,
        body_prefix=prefix,
        shared_headers=_headers(shared, MAIL_POLICY),
        shared_headers_utf8=_headers(shared, MAIL_POLICY_UTF8),
    )


def _headers(items: Sequence[tuple[str, object]], mail_policy: policy.Policy) -> bytes:
    out = []
    for name, value in items:
        header = mail_policy.header_store_parse(name, value)  # type: ignore[arg-type]
        out.append(mail_policy.fold_binary(name, header[1]))
    return b"".join(out)


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


def to_header(subscriber: Subscriber) -> bytes:
    """The `To:` header line(s), CRLF-terminated and folded.

    Written directly, not through the header registry (~0.1-1 ms per header per
    message). A non-ASCII name becomes encoded words of at most 75 characters,
    one per folded line (formataddr would write one word of any length); a
    non-ASCII address is raw UTF-8, which only SMTPUTF8 carries."""
    if not subscriber.email.isascii():
        to = str(recipient_header(subscriber))
    elif not subscriber.name:
        to = subscriber.email
    elif subscriber.name.isascii():
        to = formataddr((subscriber.name, subscriber.email))  # quotes it where needed
    else:
        words = Header(subscriber.name, "utf-8", header_name="To").encode(maxlinelen=76)
        to = f"{words} <{subscriber.email}>"
    line = f"To: {to}".replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8") + CRLF
    if any(len(part) > MAX_LINE_OCTETS for part in line.split(CRLF)):
        raise ValueError(f"To: line over {MAX_LINE_OCTETS} octets for subscriber {subscriber.id}")
    return line


def message_id(prepared: PreparedIssue, subscriber: Subscriber) -> str:
    """`<week.subscriber.random@domain>`: unique per message, traceable to the ledger."""
    return f"<{prepared.week}.{subscriber.id}.{secrets.token_hex(6)}@{prepared.sender_domain}>"


def compose(
    prepared: PreparedIssue,
    subscriber: Subscriber,
    key: bytes,
    now: datetime,
    signer: Signer | None = None,
) -> tuple[bytes, str]:
    """One subscriber's message as bytes (CRLF), and its Message-ID.

    `key` signs the unsubscribe token. A non-ASCII address gets raw UTF-8 headers
    (it can only travel over SMTPUTF8). With `signer`, DKIM-signed.
    """
    token = make_token(key, subscriber)
    https_link = unsubscribe_url(prepared.unsubscribe_base, token)
    mailto_link = unsubscribe_mailto(prepared.unsubscribe_mailbox, token)
    msgid = message_id(prepared, subscriber)
    utf8 = not subscriber.email.isascii()
    # Written directly, not through the header registry, which costs ~0.1-1 ms
    # per header per message: these are ASCII of a known shape; To is `to_header`.
    own = b"".join(
        [
            to_header(subscriber),
            f"Date: {format_datetime(now)}\r\n".encode("ascii"),
            f"Message-ID: {msgid}\r\n".encode("ascii"),
            # Folded between the two links (RFC 8058 needs both on one header).
            f"List-Unsubscribe: <{https_link}>,\r\n <{mailto_link}>\r\n".encode("ascii"),
        ]
    )
    boundary = prepared.boundary.encode("ascii")
    text, text_relaxed = prepared.text_body.pieces(https_link.encode("utf-8"))
    html, html_relaxed = prepared.html_body.pieces(
        html_lib.escape(https_link, quote=True).encode("utf-8")
    )
    headers = b"".join(
        [
            prepared.shared_headers_utf8 if utf8 else prepared.shared_headers,
            own,
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n',
        ]
    )
    text_head = _part_head(boundary, prepared.text_body.cte, b"plain", first=True)
    html_head = _part_head(boundary, prepared.html_body.cte, b"html", first=False)
    tail = [CRLF, b"--" + boundary + b"--" + CRLF]
    signatures = b""
    if signer is not None:
        # The prefix (text_head, text_relaxed[0]) was hashed once, in `prepare`.
        rest = [*text_relaxed[1:], *html_head, *html_relaxed, *tail]
        signatures = signer.signatures(headers, body_hash(rest, prepared.body_prefix.copy()))
    data = b"".join([signatures, headers, CRLF, *text_head, *text, *html_head, *html, *tail])
    return data, msgid
