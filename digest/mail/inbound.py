"""What one inbound message is: a bounce, a complaint, an unsubscribe request, or none.

Owns: `classify`, which turns the raw bytes of one message that arrived after
the SMTP session (at the envelope sender or the `List-Unsubscribe` mailto
address) into an `Inbound`: its kind, the recipients it is about, the status
it gives, a one-line reason, and the unsubscribe token it carries.

- a delivery status notification (RFC 3464, `multipart/report;
  report-type=delivery-status`, also RFC 6533's `message/global-delivery-status`):
  the per-recipient fields (Final-Recipient, Original-Recipient, Action, Status,
  Diagnostic-Code) decide; a hard bounce is `Action: failed` with a 5.x.x
  status, a soft one a 4.x.x status or `Action: delayed`;
- an abuse report (RFC 5965 ARF, `report-type=feedback-report`): a complaint
  when its Feedback-Type is abuse, fraud or virus; the recipient from
  `Original-Rcpt-To`, else the `To:` of the returned original;
- a bounce in words only (qmail, Exim without DSN, old Exchange, Yahoo, ISPs
  writing Japanese, Chinese or Korean): heuristics on the notification text
  (status codes, "user unknown", "mailbox full", 存在しません, …) and the
  `X-Failed-Recipients` header, only for a message that looks like a bounce
  (a mailer-daemon sender, a bounce's subject, or that header);
- a mail to the mailto address whose Subject (or first body line) is
  `unsubscribe <token>`;
- an auto-reply (RFC 3834 `Auto-Submitted`, "Out of Office", 自動応答, …).

Every message returned to us carries our own `List-Unsubscribe` header when
its original (or its headers) is attached, and its token names the subscriber:
`token` is that token, the most reliable way to know who it is about, since
forwarders and providers rewrite or redact addresses. It is not checked here.

Mailbox full (X.2.2) is soft even with a 5: the reader can empty it, and the
address is alive. Everything else with a 5 is hard, as a 5xx refusal during
the session is (`digest.mail.deliver`).

Pure: no I/O, no clock, no database; the same bytes give the same answer.
Never raises on hostile input (malformed MIME, unknown charsets, huge headers,
missing parts): such a message is `unrecognised`, with the reason.
Doesn't own: reading mailboxes, checking tokens or changing subscribers
(`digest.run.inbox`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from enum import StrEnum
from urllib.parse import unquote

# Bounces and reports are a few kilobytes to a few hundred (with the original
# attached); past this a message is not read at all.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_PARTS = 200  # MIME parts looked at per message
MAX_TEXT = 256 * 1024  # characters of one part's text searched by the heuristics
# digest sends each message to one reader: a report naming more failed
# recipients than this is not about its mail, and is not acted on.
MAX_RECIPIENTS = 20
MAX_DETAIL = 200  # characters of the one-line reason
MAX_KEY = 250  # a longer Message-ID is replaced by the hash of the bytes

# The token of `digest.tokens`: `<id>.<signature>`.
_TOKEN = r"[0-9]{1,19}\.[A-Za-z0-9_-]{1,64}"
_TOKEN_RE = re.compile(rf"^{_TOKEN}$")
# In a List-Unsubscribe value: the mailto's subject, or the https link's query.
_TOKEN_IN_HEADER = re.compile(
    rf"(?:subject=unsubscribe(?:%20|\+|\s)|[?&]token=)({_TOKEN})(?![A-Za-z0-9_-])", re.IGNORECASE
)
_LIST_UNSUBSCRIBE_LINE = re.compile(
    r"^List-Unsubscribe:[^\n]{0,2000}(?:\n[ \t][^\n]{0,2000}){0,20}", re.IGNORECASE | re.MULTILINE
)

# ASCII addresses in free text (a non-ASCII one is read from DSN fields only:
# in Japanese text an address touches the words around it).
_ADDRESS = re.compile(
    r"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])"
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-][A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{0,63}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
# RFC 3463 enhanced status codes, not inside an IP address or a version number.
_ENHANCED = re.compile(r"(?<![\w.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![\w]|\.[0-9])")
# An SMTP reply code: "550 ", "550-", "554:" (Yahoo), "#550" (Exchange).
_BASIC = re.compile(r"(?<![\w.$])([45][0-5][0-9])(?=[ :-]{1,3}(?:[A-Za-z<#(\[]|[245]\.[0-9]))")

_DAEMON_LOCALPARTS = ("mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "bounce")
_DAEMON_NAMES = re.compile(r"mail delivery (?:system|subsystem)|mailer.?daemon|postmaster", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|deliver(?:y|ies) (?:failure|failed|"
    r"problem|delayed)|delivery has failed|mail delivery failed|returned mail|failure notice|"
    r"non.?delivery|could not be delivered|returning message to sender|delayed mail|"
    r"delivery delayed|warning: message .{0,40} delayed|"
    r"配信(?:エラー|不能|失敗|でき)|送信エラー|不達|エラーメール|退信|退回|投递失败|無法投遞|"
    r"반송|전송 실패|전달 실패",
    re.IGNORECASE,
)
# At the start of the subject (a reader's "Re: vacation plans" is a reader's
# mail), or Lotus Notes' "X is out of the office".
_AUTO_SUBJECT = re.compile(
    r"^\W{0,3}(?:out of (?:the )?office|automatic reply|auto.?reply|auto.?response|"
    r"autoreply|vacation|abwesenheit|réponse automatique|respuesta automática|"
    r"自動応答|自動返信|不在|休暇|自动回复|自動回覆|자동 ?응답|부재)|is out of (?:the )?office",
    re.IGNORECASE,
)

# Where the notification of a text bounce ends and the copy of the original begins.
_ORIGINAL_FOLLOWS = re.compile(
    r"^[ \t]*-{2,}[ \t]*(?:Below (?:this|the next) line is a copy|This is a copy of the "
    r"message|Original message|Original Message follows|The header of the original message|"
    r"Returned message|Message header follows|Unsent message below)"
    r"|^[ \t]*-{2,}[ \t]*(?:元のメッセージ|以下.{0,10}(?:メッセージ|原文))"
    r"|^[ \t]*-{2,}[ \t]*(?:原始邮件|原邮件|原始郵件|원본 메시지)"
    r"|^Original-Message-Headers?:|^Content-Type: message/rfc822",
    re.IGNORECASE | re.MULTILINE,
)

# Phrases of text bounces; checked in this order: full, then delayed, then gone.
_FULL = re.compile(
    r"mailbox (?:is )?full|mailbox.{0,20}over.?quota|over.?quota|quota exceeded|exceeded.{0,20}"
    r"(?:quota|storage)|insufficient (?:system )?storage|out of storage|storage (?:space )?"
    r"(?:is )?full|inbox is full|mailfolder is full|"
    r"容量.{0,10}(?:超過|超え|いっぱい|不足)|いっぱい|満杯|"
    r"邮箱(?:已满|空间不足|容量不足)|信箱已滿|空间不足|容量已满|"
    r"용량.{0,10}(?:초과|부족)|가득",
    re.IGNORECASE,
)
_DELAYED = re.compile(
    r"has not yet been delivered|not been delivered yet|will (?:continue|keep) (?:trying|to try)|"
    r"will retry|still (?:being )?retr|still trying|delivery (?:is |has been )?delayed|"
    r"message delayed|temporar(?:y|ily) (?:failure|error|unavailable|deferred|rejected)|"
    r"greylist|配信を再試行|再送を試み|遅延|延迟投递|暂时|지연",
    re.IGNORECASE,
)
_GONE = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|"
    r"mailbox (?:unavailable|not found|does not exist)|does not exist|doesn'?t exist|"
    r"recipient not found|recip(?:ient)?notfound|address rejected|invalid (?:recipient|mailbox|"
    r"address)|no mailbox here|account (?:has been |is )?disabled|doesn'?t have an? .{1,60} "
    r"account|unrouteable address|unknown recipient|not a valid recipient|address not found|"
    r"user not found|bad destination mailbox|addressee unknown|e-?mail account does not exist|"
    r"存在しません|存在しない|宛先不明|見つかりません|該当するユーザー|"
    r"用户不存在|收件人不存在|地址不存在|帐号不存在|账号不存在|帳號不存在|用戶不存在|"
    r"존재하지 않|없는 (?:계정|사용자|주소)|찾을 수 없",
    re.IGNORECASE,
)
_PERMANENT = re.compile(r"permanent(?:ly)? (?:error|failure|fatal)|fatal error|failed permanently|"
                        r"given up|恒久的|永久", re.IGNORECASE)  # fmt: skip

_COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus"})
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


class Kind(StrEnum):
    HARD_BOUNCE = "hard bounce"  # the address is dead: counts toward `bouncing`
    SOFT_BOUNCE = "soft bounce"  # delayed, mailbox full: recorded, changes nothing
    COMPLAINT = "complaint"  # the reader marked an issue as spam (ARF)
    UNSUBSCRIBE = "unsubscribe"  # a mail to the List-Unsubscribe mailto address
    AUTO_REPLY = "auto-reply"  # out of office, vacation: ignored
    UNRECOGNISED = "unrecognised"  # none of these, or unreadable: ignored, with the reason


@dataclass(frozen=True, slots=True)
class Inbound:
    """What one inbound message says. `recipients` are the addresses it is about
    (for an unsubscribe request: its From, never trusted); `status` is an RFC 3463
    code ("5.1.1"), or a complaint's Feedback-Type ("abuse"), or ""; `detail` is a
    one-line reason meant for a person (it may name an address); `token` is the
    unsubscribe token found (unchecked), or ""."""

    key: str
    kind: Kind
    recipients: tuple[str, ...] = ()
    status: str = ""
    detail: str = ""
    token: str = ""


def message_key(raw: bytes, message_id: str) -> str:
    """The Message-ID, or `sha256:<hex>` of the bytes when it has none usable."""
    mid = message_id.strip()
    if 2 < len(mid) <= MAX_KEY and mid.isascii() and mid.isprintable() and " " not in mid:
        return mid
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def classify(raw: bytes) -> Inbound:
    """The kind of one raw message. Never raises."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Inbound(
            message_key(raw, ""),
            Kind.UNRECOGNISED,
            detail=f"{len(raw)} bytes: larger than any bounce or report "
            f"({MAX_MESSAGE_BYTES // (1024 * 1024)} MiB at most); not read",
        )
    key = message_key(raw, "")
    try:
        message = message_from_bytes(raw, policy=compat32)
        key = message_key(raw, _header(message, "Message-ID"))
        return _classify(key, message)
    # The standard library's parser has raised on hostile input before (deep
    # nesting, broken encoded words); one bad message must never stop a run.
    except Exception as e:
        return Inbound(key, Kind.UNRECOGNISED, detail=f"cannot parse: {_clean(repr(e))}")


def _classify(key: str, message: Message) -> Inbound:
    parts = list(_parts(message))
    content_type = message.get_content_type()
    report_type = str(message.get_param("report-type", "") or "").lower()
    feedback = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    if feedback or report_type == "feedback-report":
        return _complaint(key, message, parts, feedback)
    statuses = [
        p
        for p in parts
        if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    ]
    if statuses or (content_type == "multipart/report" and report_type == "delivery-status"):
        found = _from_dsn(key, message, parts, statuses)
        if found is not None:
            return found
    unsubscribe = _unsubscribe(key, message, parts)
    if unsubscribe is not None:
        return unsubscribe
    if _looks_like_bounce(message):
        return _from_text(key, message, parts)
    if _is_auto_reply(message):
        return Inbound(key, Kind.AUTO_REPLY, detail=_clean(_header(message, "Subject")))
    subject = _clean(_header(message, "Subject")) or "(no subject)"
    return Inbound(
        key,
        Kind.UNRECOGNISED,
        detail=f"not a bounce, complaint or unsubscribe request: {subject}",
    )


# -- reading the message -------------------------------------------------------------


def _parts(message: Message) -> Iterator[Message]:
    """Every part, depth first, at most `MAX_PARTS`; a returned original
    (message/rfc822) is one part: what is inside it is not ours to read as a report."""
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _raw_items(message: Message) -> list[tuple[str, str]]:
    """The header fields as they came, lower-case names; raw 8-bit bytes (UTF-8
    headers of SMTPUTF8 mail, sloppy clients) read as UTF-8. `items()` would
    turn them into U+FFFD."""
    return [(name.lower(), _unsurrogate(str(value))) for name, value in message.raw_items()]


def _raw(message: Message, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in _raw_items(message) if key == wanted), None)


def _header(message: Message, name: str) -> str:
    """A header decoded to text (RFC 2047 words included), or ""."""
    value = _raw(message, name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # a broken encoded word or an unknown charset: the raw text
        return value


def _unsurrogate(text: str) -> str:
    # compat32 keeps header bytes that are not ASCII as lone surrogates.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _text(part: Message) -> str:
    """A leaf part's content as text, in its declared charset when Python knows
    it, else UTF-8, else Latin-1 (which decodes anything)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        inner = part.get_payload()
        if isinstance(inner, list):  # a parsed message/*: its own text
            return "\n\n".join(_as_text(m) for m in inner if isinstance(m, Message))
        return _unsurrogate(str(inner))[:MAX_TEXT]
    if not isinstance(payload, bytes):
        return str(payload)[:MAX_TEXT]
    data = payload[: MAX_TEXT * 4]
    charset = str(part.get_content_charset() or "").strip().lower()
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)[:MAX_TEXT]
        except (LookupError, UnicodeDecodeError):
            continue
    if charset:
        try:
            return data.decode(charset, "replace")[:MAX_TEXT]
        except LookupError:
            pass
    return data.decode("latin-1")[:MAX_TEXT]


def _as_text(message: Message) -> str:
    """A parsed block of fields (a DSN's per-recipient block, a returned
    original's headers) as `Name: value` lines."""
    return "\n".join(f"{name}: {value}" for name, value in _raw_items(message))


def _field_blocks(part: Message) -> list[list[tuple[str, str]]]:
    """The blocks of `Name: value` fields of a message/delivery-status or
    message/feedback-report part, however the parser left them."""
    inner = part.get_payload()
    if isinstance(inner, list) and inner:
        blocks = []
        for item in inner:
            if isinstance(item, Message):
                fields = [(n, " ".join(v.split())) for n, v in _raw_items(item)]
                # A block the parser did not split (no blank line between): its body.
                body = _text(item) if isinstance(item.get_payload(), str) else ""
                if body.strip():
                    blocks.append(fields)
                    blocks.extend(_parse_fields(body))
                    continue
                blocks.append(fields)
        return blocks
    return _parse_fields(_text(part))


def _parse_fields(text: str) -> list[list[tuple[str, str]]]:
    """Blocks of RFC 822-style fields separated by blank lines (continuation lines
    start with white space); lines that are no field are skipped."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
        elif line[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            if name and " " not in name.strip() and len(name) < 80:
                current.append((name.strip().lower(), value.strip()))
    if current:
        blocks.append(current)
    return blocks


def _get(fields: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in fields if key == name), "")


def _typed_address(value: str) -> str:
    """The address of a DSN field `rfc822; a@b` / `utf-8; 山田@example.jp`
    (RFC 6533's `\\x{HEX}` escapes decoded), or ""."""
    kind, sep, address = value.partition(";")
    if not sep:
        address = kind
    elif kind.strip().lower() == "utf-8":
        address = re.sub(r"\\x\{([0-9A-Fa-f]{1,6})\}", lambda m: _chr(int(m.group(1), 16)), address)
    address = address.strip().strip("<>").strip()
    if not address or "@" not in address or any(c.isspace() for c in address):
        return ""
    return _clean(address)


def _chr(code: int) -> str:
    return chr(code) if code <= 0x10FFFF else ""


def _clean(text: str) -> str:
    """One line of visible text: controls and bidi overrides out, spaces collapsed,
    at most `MAX_DETAIL` characters."""
    text = text[: MAX_DETAIL * 4]
    line = " ".join(_CONTROLS.sub(" ", unicodedata.normalize("NFC", text)).split())
    return line if len(line) <= MAX_DETAIL else line[: MAX_DETAIL - 1] + "…"


def _addresses_in(text: str) -> list[str]:
    found: list[str] = []
    for match in _ADDRESS.finditer(text):
        address = match.group().rstrip(".")
        if address.lower() not in (a.lower() for a in found):
            found.append(address)
    return found


def _is_daemon(address: str) -> bool:
    local = address.rpartition("@")[0].lower()
    return local.startswith(_DAEMON_LOCALPARTS)


def _redacted(address: str) -> bool:
    """An address a feedback loop blanked out: `redacted@…`, `xxxxx@…`, `***@…`."""
    local = address.rpartition("@")[0].lower()
    return not local or "redacted" in local or set(local) <= set("x*#.")


# -- the returned original -----------------------------------------------------------


def _original_headers(parts: list[Message], text_after: str = "") -> list[tuple[str, str]]:
    """The header fields of the returned original: an attached message/rfc822
    (or RFC 6532's message/global), a text/rfc822-headers part, or the copy a text
    bounce quotes after its notification."""
    for part in parts:
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return _raw_items(inner[0])
        if content_type in ("text/rfc822-headers", "message/global-headers"):
            blocks = _parse_fields(_text(part))
            if blocks:
                return blocks[0]
    if text_after:
        blocks = _parse_fields(text_after.lstrip("\r\n").split("\n", 1)[-1])
        return blocks[0] if blocks else []
    return []


def _token_in(headers: list[tuple[str, str]], *texts: str) -> str:
    """The token of our `List-Unsubscribe` header in the returned original."""
    values = [value for name, value in headers if name == "list-unsubscribe"]
    for text in texts:  # a quoted original the parser did not see as headers
        values += [m.group() for m in _LIST_UNSUBSCRIBE_LINE.finditer(text.replace("\r\n", "\n"))]
    for value in values:
        found = _TOKEN_IN_HEADER.search(value)
        if found:
            return found.group(1)
    return ""


def _original_to(headers: list[tuple[str, str]]) -> list[str]:
    values = [value for name, value in headers if name in ("to", "x-original-to")]
    found: list[str] = []
    try:
        pairs = getaddresses(values)
    except Exception:
        pairs = []
    for _, address in pairs:
        address = _clean(address)
        if "@" in address and not _redacted(address) and address not in found:
            found.append(address)
    return found


# -- complaints (RFC 5965) -----------------------------------------------------------


def _complaint(
    key: str, message: Message, parts: list[Message], feedback: list[Message]
) -> Inbound:
    fields = [f for block in (_field_blocks(feedback[0]) if feedback else []) for f in block]
    feedback_type = _get(fields, "feedback-type").lower().split(";")[0].strip()
    feedback_type = re.sub(r"[^a-z0-9-]", "", feedback_type)[:40]
    headers = _original_headers(parts)
    token = _token_in(headers)
    recipients: list[str] = []
    for name, value in fields:
        if name == "original-rcpt-to":
            address = _typed_address(value)
            if address and not _redacted(address) and address not in recipients:
                recipients.append(address)
    if not recipients:
        recipients = _original_to(headers)
    reporter = _clean(_get(fields, "user-agent")) or _clean(parseaddr(_header(message, "From"))[1])
    if feedback_type not in _COMPLAINT_TYPES:
        what = {
            "auth-failure": "an authentication failure report (RFC 6591): about our "
            "DKIM/SPF/DMARC, not a reader",
            "not-spam": "a not-spam report: nothing to do",
            "": "a feedback report without a Feedback-Type",
        }.get(feedback_type, f"a feedback report of type {feedback_type!r}: not a complaint")
        return Inbound(key, Kind.UNRECOGNISED, status=feedback_type, detail=what, token=token)
    return Inbound(
        key,
        Kind.COMPLAINT,
        recipients=tuple(recipients[:MAX_RECIPIENTS]),
        status=feedback_type,
        detail=f"{feedback_type} report from {reporter or 'an unnamed reporter'}",
        token=token,
    )


# -- delivery status notifications (RFC 3464) ----------------------------------------


@dataclass(frozen=True, slots=True)
class _Recipient:
    address: str
    status: str
    diagnostic: str
    kind: Kind | None  # None: delivered, relayed, expanded


def _recipient(fields: list[tuple[str, str]]) -> _Recipient:
    address = _typed_address(_get(fields, "final-recipient")) or _typed_address(
        _get(fields, "original-recipient")
    )
    action = _get(fields, "action").lower().split("(")[0].strip()
    diagnostic = _get(fields, "diagnostic-code")
    diagnostic = diagnostic.partition(";")[2].strip() if ";" in diagnostic else diagnostic
    status = _status(_get(fields, "status"), diagnostic, action)
    if action in ("delivered", "relayed", "expanded") or status.startswith("2"):
        return _Recipient(address, status, diagnostic, None)
    soft = action == "delayed" or status.startswith("4") or _is_full(status, diagnostic)
    return _Recipient(address, status, diagnostic, Kind.SOFT_BOUNCE if soft else Kind.HARD_BOUNCE)


def _status(given: str, diagnostic: str, action: str) -> str:
    """The RFC 3463 code: the Status field; its detail from the diagnostic when the
    field says only X.0.0 (Mailgun, SES and others), or is missing."""
    found = _ENHANCED.search(given.strip() + " ")
    status = ".".join(found.groups()) if found else ""
    if not status or status.endswith(".0.0"):
        in_diagnostic = _ENHANCED.search(diagnostic)
        if in_diagnostic and (not status or in_diagnostic.group(1) == status[0]):
            return ".".join(in_diagnostic.groups())
        basic = _BASIC.search(diagnostic + " ")
        if not status and basic:
            return f"{basic.group(1)[0]}.0.0"
    if not status:
        return {"failed": "5.0.0", "delayed": "4.0.0"}.get(action, "")
    return status


def _is_full(status: str, text: str) -> bool:
    return status.endswith(".2.2") or _FULL.search(text) is not None


def _from_dsn(
    key: str, message: Message, parts: list[Message], statuses: list[Message]
) -> Inbound | None:
    recipients = [
        _recipient(block)
        for part in statuses
        for block in _field_blocks(part)
        if any(name in ("final-recipient", "original-recipient", "action") for name, _ in block)
    ]
    if not recipients:
        return None  # a report without per-recipient fields: read its words instead
    headers = _original_headers(parts)
    token = _token_in(headers)
    failed = [r for r in recipients if r.kind is Kind.HARD_BOUNCE] or [
        r for r in recipients if r.kind is Kind.SOFT_BOUNCE
    ]
    if not failed:
        actions = sorted({r.status or "2.0.0" for r in recipients})
        return Inbound(
            key,
            Kind.UNRECOGNISED,
            detail=f"a delivery report without a failure (status {', '.join(actions)})",
        )
    addresses = list(dict.fromkeys(r.address for r in failed if r.address))
    if not addresses:
        addresses = _failed_recipients_header(message) or _original_to(headers)
    if len(addresses) > MAX_RECIPIENTS:
        return _too_many(key, len(addresses))
    first = failed[0]
    return Inbound(
        key,
        first.kind or Kind.HARD_BOUNCE,
        recipients=tuple(addresses),
        status=first.status,
        detail=_clean(first.diagnostic) or f"status {first.status}",
        token=token,
    )


def _too_many(key: str, count: int) -> Inbound:
    return Inbound(
        key,
        Kind.UNRECOGNISED,
        detail=f"names {count} failed recipients; digest sends each message to one "
        "reader, so this is not a report about its mail",
    )


def _failed_recipients_header(message: Message) -> list[str]:
    values = [value for name, value in _raw_items(message) if name == "x-failed-recipients"]
    found: list[str] = []
    for value in values:
        for address in _addresses_in(value):
            if address not in found:
                found.append(address)
    return found


# -- bounces in words ----------------------------------------------------------------


def _looks_like_bounce(message: Message) -> bool:
    if _raw(message, "X-Failed-Recipients"):
        return True
    name, address = parseaddr(_header(message, "From"))
    if _is_daemon(address) or _DAEMON_NAMES.search(name):
        return True
    return _BOUNCE_SUBJECT.search(_header(message, "Subject")) is not None


def _from_text(key: str, message: Message, parts: list[Message]) -> Inbound:
    texts = [
        _text(p) for p in parts if p.get_content_type() == "text/plain" and not p.get_filename()
    ] or [_strip_html(_text(p)) for p in parts if p.get_content_type() == "text/html"]
    whole = "\n".join(texts).replace("\r\n", "\n")
    cut = _ORIGINAL_FOLLOWS.search(whole)
    notification, after = (whole[: cut.start()], whole[cut.start() :]) if cut else (whole, "")
    headers = _original_headers(parts, after)
    token = _token_in(headers, after)
    # The failed recipient is neither the bounce's sender (the daemon) nor its
    # addressee (us), nor any daemon.
    ours = {
        a.lower()
        for _, a in getaddresses(
            [_header(message, n) for n in ("From", "To", "Sender", "Return-Path", "Reply-To")]
        )
    } | {a.lower() for _, a in getaddresses([v for n, v in headers if n in ("from", "sender")])}
    recipients = _failed_recipients_header(message) or [
        a for a in _addresses_in(notification) if a.lower() not in ours and not _is_daemon(a)
    ]
    if not recipients:
        recipients = _original_to(headers)
    if len(recipients) > MAX_RECIPIENTS:
        return _too_many(key, len(recipients))
    kind, status, why = _judge_text(notification)
    if kind is None:
        return Inbound(
            key,
            Kind.UNRECOGNISED,
            recipients=tuple(recipients),
            detail="looks like a bounce but gives no reason digest knows: "
            + (_clean(_header(message, "Subject")) or "(no subject)"),
            token=token,
        )
    return Inbound(key, kind, tuple(recipients), status, why, token)


def _judge_text(text: str) -> tuple[Kind | None, str, str]:
    """(kind, status, reason) of a bounce's notification text."""
    enhanced = _ENHANCED.search(text)
    status = ".".join(enhanced.groups()) if enhanced else ""
    basic = _BASIC.search(text)
    if not status and basic:
        status = f"{basic.group(1)[0]}.0.0"
    full = _FULL.search(text)
    if full or status.endswith(".2.2"):
        return Kind.SOFT_BOUNCE, status, _around(text, full.start() if full else enhanced)
    if status.startswith("4"):
        return Kind.SOFT_BOUNCE, status, _around(text, enhanced or basic)
    delayed = _DELAYED.search(text)
    if delayed and not status.startswith("5"):
        return Kind.SOFT_BOUNCE, status, _around(text, delayed.start())
    if status.startswith("5"):
        return Kind.HARD_BOUNCE, status, _around(text, enhanced or basic)
    gone = _GONE.search(text) or _PERMANENT.search(text)
    if gone:
        return Kind.HARD_BOUNCE, status, _around(text, gone.start())
    return None, status, ""


def _around(text: str, where: re.Match[str] | int | None) -> str:
    """The line of `text` holding `where`: the reason as the bounce wrote it."""
    if where is None:
        return ""
    at = where if isinstance(where, int) else where.start()
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return _clean(text[start : end if end >= 0 else len(text)])


def _strip_html(html: str) -> str:
    return re.sub(r"<[^>]{0,2000}>", " ", html)


# -- unsubscribe requests and auto-replies -------------------------------------------


def _unsubscribe_words(text: str) -> str | None:
    """The token of `unsubscribe <token>` ("" when the word stands alone), or
    None when `text` is something else. String operations, not a regex: a
    subject may be a megabyte of white space."""
    words = unquote(text[:1000]).split()
    if not words or words[0].lower() != "unsubscribe" or len(words) > 2:
        return None
    return words[1] if len(words) == 2 else ""


def _unsubscribe(key: str, message: Message, parts: list[Message]) -> Inbound | None:
    token = _unsubscribe_words(_header(message, "Subject"))
    if not token:  # clients that cannot set a subject put it on the first line
        in_body = _unsubscribe_words(_first_line(parts))
        if in_body is None and token is None:
            return None
        token = in_body or token or ""
    sender = _clean(parseaddr(_header(message, "From"))[1])
    if not _TOKEN_RE.match(token):
        why = f"malformed token {_clean(token)[:40]!r}" if token else "no token"
        return Inbound(
            key,
            Kind.UNSUBSCRIBE,
            recipients=(sender,) if sender else (),
            detail=f"an unsubscribe request with {why}",
        )
    return Inbound(
        key,
        Kind.UNSUBSCRIBE,
        recipients=(sender,) if sender else (),
        detail="an unsubscribe request",
        token=token,
    )


def _first_line(parts: list[Message]) -> str:
    for part in parts:
        if part.get_content_type() == "text/plain" and not part.get_filename():
            for line in _text(part).splitlines():
                if line.strip():
                    return line.strip()
            return ""
    return ""


def _is_auto_reply(message: Message) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if any(_raw(message, h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if _header(message, "Precedence").strip().lower() == "auto_reply":
        return True
    return _AUTO_SUBJECT.search(_header(message, "Subject")) is not None


__all__ = ["MAX_MESSAGE_BYTES", "MAX_RECIPIENTS", "Inbound", "Kind", "classify", "message_key"]
