"""The mails digest serve sends one reader: confirm a signup, welcome, already subscribed.

Real parts only: the notices go over SMTP to an aiosmtpd sink on 127.0.0.1 (or into
the outbox folder) and are parsed back with the standard library; the templates,
premailer and dkimpy are the real ones; the HTML is laid out in headless Chromium.
Golden files `tests/golden/notice_<kind>_<lang>.eml` hold each whole message with
its boundary and Message-ID's random part masked (Date comes from the `now` given,
so it is fixed); `DIGEST_UPDATE_GOLDEN=1 pytest tests/test_notices.py` rewrites them.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import shutil
import socket
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path

import browser
import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.config import Settings, parse_settings
from digest.credentials import Secrets
from digest.errors import AddressError, DeliveryError, DigestError, TemplateError
from digest.loopback.mailsink import Received, SmtpSink
from digest.mail.notices import NoticeKind, NoticeLinks, compose_notice, send_notice
from digest.mail.signing import Signer, make_signer
from digest.models import Subscriber
from digest.render.messages import message

GOLDEN = Path(__file__).parent / "golden"
TITLE = "アジアAIハブ週報"
ADDRESS = "yamada@example.jp"
NOW = datetime(2026, 11, 23, 0, 13, 47, tzinfo=UTC)
LINKS = NoticeLinks(
    action="https://digest.example.com/confirm?token=42.1795567227.Q29uZmlybS1tZQ",
    # `&` in a link: the HTML must carry it escaped, once.
    preferences="https://digest.example.com/preferences?token=42.UHJlZnMtZm9y&lang=ja",
    unsubscribe="https://digest.example.com/unsubscribe?token=42.VW5zdWJzY3JpYmU",
    latest_issue="https://digest.example.com/archive/2026-W47.html",
)
KINDS = list(NoticeKind)
LANGUAGES = ["ja", "en"]
NO_SECRETS = Secrets(smtp_password=None, signing_key=None)
PHONE, EMAIL_WIDTH = 375, 600
SCREENSHOT = Path("/tmp/notice_confirm_ja_375.png")


def reader(language: str = "", name: str = "山田 太郎", email: str = ADDRESS) -> Subscriber:
    return Subscriber(id=42, email=email, name=name, language=language)


def links_in(kind: NoticeKind) -> list[str]:
    """The links a notice of `kind` shows (each exactly once per part)."""
    if kind is NoticeKind.CONFIRM:
        return [LINKS.action]
    if kind is NoticeKind.WELCOME:
        assert LINKS.latest_issue
        return [LINKS.preferences, LINKS.unsubscribe, LINKS.latest_issue]
    return [LINKS.preferences, LINKS.unsubscribe]


def links_not_in(kind: NoticeKind) -> list[str]:
    every = [LINKS.action, LINKS.preferences, LINKS.unsubscribe, LINKS.latest_issue]
    return [link for link in every if link and link not in links_in(kind)]


def smtp_config(sink: SmtpSink, extra: str = "") -> str:
    return (
        '[digest]\ncontact = "editor@example.com"\n'
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
        f'from = "{TITLE} <digest@example.com>"\n' + extra
    )


def parsed(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative notice."""
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    page = msg.get_body(preferencelist=("html",))
    assert text is not None and page is not None
    # Base64 text is in canonical form (CRLF line ends); quoted-printable decodes to LF.
    plain, rich = (part.get_content().replace("\r\n", "\n") for part in (text, page))
    return plain, rich


def only(sink: SmtpSink) -> Received:
    (item,) = sink.received
    return item


# --- HTML checks ------------------------------------------------------------------------


_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)


def _without_media(css: str) -> str:
    """`css` with every @media block (nested braces) removed."""
    out, i = [], 0
    while (start := css.find("@media", i)) >= 0:
        out.append(css[i:start])
        depth, j = 0, css.index("{", start)
        while True:
            depth += {"{": 1, "}": -1}.get(css[j], 0)
            j += 1
            if depth == 0:
                break
        i = j
    return "".join([*out, css[i:]])


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(document: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(document)
    return parser.found


def check_inlined(document: str) -> None:
    """Layout and colours live in style= attributes: <style> keeps only @media."""
    for block in _STYLE.findall(_COMMENT.sub("", document)):
        rest = re.sub(r"/\*.*?\*/", "", _without_media(block), flags=re.DOTALL)
        assert not rest.strip(), f"rules outside @media left in <style>: {rest.strip()[:200]}"
    classed = [(tag, attrs) for tag, attrs in elements(document) if attrs.get("class")]
    assert classed
    bare = [f"<{tag} class={attrs['class']}>" for tag, attrs in classed if not attrs.get("style")]
    assert not bare, f"elements without inline style: {bare}"


# --- every kind, both languages, over SMTP ---------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_notice_arrives_and_reads_back(
    kind: NoticeKind,
    language: str,
    smtp_sink: SmtpSink,
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    _, settings = write_config(smtp_config(smtp_sink))
    send_notice(settings, NO_SECRETS, reader(language), kind, LINKS, NOW)

    item = only(smtp_sink)
    assert item.rcpt_tos == (ADDRESS,) and item.mail_from == "digest@example.com"
    assert item.data.isascii(), "7-bit: any relay takes it"
    assert all(len(line) <= 998 for line in item.data.split(b"\r\n"))
    msg = parsed(item.data)
    assert msg["Subject"] == message(language, f"notice_{kind}_subject", title=TITLE)
    assert msg["From"] == f"{TITLE} <digest@example.com>"
    (to,) = msg["To"].addresses
    assert to.addr_spec == ADDRESS
    # A confirmation goes to an address anyone may type: no name from the same form.
    assert to.display_name == ("" if kind is NoticeKind.CONFIRM else "山田 太郎")
    assert msg["Date"] == format_datetime(NOW)
    assert re.fullmatch(rf"<notice\.{kind}\.42\.[0-9a-f]{{16}}@example\.com>", msg["Message-ID"])
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Digest-Notice"] == str(kind)

    text, page = parts(msg)
    assert message(language, f"notice_{kind}_heading") in text
    assert html.escape(message(language, f"notice_{kind}_heading")) in page
    assert f'<html lang="{language}">' in page
    for link in links_in(kind):
        assert text.count(link) == 1, link
        assert page.count(html.escape(link)) == 1, link
        assert page.count(link) == (0 if "&" in link else 1)  # & only as &amp;
    for link in links_not_in(kind):
        assert link not in text and html.escape(link) not in page, link
    check_inlined(page)

    if kind is NoticeKind.CONFIRM:
        # Not on the list yet: nothing to unsubscribe from.
        for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"):
            assert msg[name] is None, name
        assert "2026" in text and "48" in text  # says when the link stops working
    else:
        assert msg["List-Unsubscribe"] == f"<{LINKS.unsubscribe}>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["List-Id"] == "<weekly.example.com>"


def test_the_confirm_mail_says_when_its_link_expires() -> None:
    data = compose_notice(_outbox_settings(), reader("ja"), NoticeKind.CONFIRM, LINKS, NOW)
    text, page = parts(parsed(data))
    # 00:13:47 UTC + 48 h = Wednesday 09:13 in Tokyo (seconds cut, never rounded up).
    expected = "ボタンの有効期限は48時間後、2026年11月25日(水) 9:13（日本標準時）までです。"
    assert expected in text.replace("\n", "") and expected in page
    one_hour = NoticeLinks(**{**_links_dict(), "expires_hours": 1})
    en = parts(parsed(compose_notice(_outbox_settings(), reader("en"), "confirm", one_hour, NOW)))
    assert "The button works for 1 hour, until Mon, Nov 23, 2026, 10:13 AM" in en[1]


def test_the_welcome_mail_says_when_issues_arrive_and_may_lack_a_latest_issue() -> None:
    links = NoticeLinks(**{**_links_dict(), "latest_issue": None})
    text, page = parts(
        parsed(compose_notice(_outbox_settings(), reader("en"), "welcome", links, NOW))
    )
    assert "every Monday at about 8:00 AM (Japan Time)" in text.replace("\n", " ")
    assert "2026-W47" not in text + page
    assert message("en", "notice_welcome_latest") not in text + page


def test_the_language_is_the_readers_then_the_digests() -> None:
    settings = _outbox_settings()  # [digest] language = "ja"
    for language, expected in [("en", "en"), ("ja", "ja"), ("", "ja"), ("fr", "ja")]:
        msg = parsed(compose_notice(settings, reader(language), NoticeKind.WELCOME, LINKS, NOW))
        assert msg["Subject"] == message(expected, "notice_welcome_subject", title=TITLE)
        assert f'<html lang="{expected}">' in parts(msg)[1]


def test_every_notice_has_its_own_message_id() -> None:
    settings = _outbox_settings()
    ids = {
        parsed(compose_notice(settings, reader(), kind, LINKS, NOW))["Message-ID"]
        for kind in KINDS
        for _ in range(3)
    }
    assert len(ids) == 3 * len(KINDS)


def test_an_internationalised_address_gets_utf8_headers() -> None:
    data = compose_notice(
        _outbox_settings(), reader(email="山田@example.jp"), NoticeKind.WELCOME, LINKS, NOW
    )
    head = data.partition(b"\r\n\r\n")[0].decode("utf-8")
    # SMTPUTF8 headers are raw UTF-8: no encoded word may stand inside an address.
    assert 'To: "山田 太郎" <山田@example.jp>\r\n' in head
    assert f"Subject: 【{TITLE}】ご登録ありがとうございます\r\n" in head
    assert f"From: {TITLE} <digest@example.com>\r\n" in head


# --- DKIM -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    """(PEM private key, the DNS TXT record publishing its public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def dns(record: bytes) -> Callable[..., bytes | None]:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"s2026._domainkey.example.com." else None

    return lookup


@pytest.mark.network
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_a_notice_is_dkim_signed_when_dkim_is_configured(
    kind: NoticeKind,
    language: str,
    key_pair: tuple[bytes, bytes],
    smtp_sink: SmtpSink,
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    pem, record = key_pair
    _, settings = write_config(
        smtp_config(smtp_sink, '[dkim]\ndomain = "example.com"\nselector = "s2026"\n')
    )
    secrets = Secrets(smtp_password=None, signing_key=None, dkim_key=pem)
    send_notice(settings, secrets, reader(language), kind, LINKS, NOW)

    data = only(smtp_sink).data
    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(data, dnsfunc=dns(record))
    signed = re.search(rb"h=([^;]+);", data.replace(b"\r\n", b"").replace(b" ", b""))
    assert signed is not None
    covered = set(signed.group(1).lower().split(b":"))
    assert {b"from", b"to", b"subject", b"date", b"message-id"} <= covered
    if kind is not NoticeKind.CONFIRM:
        assert {b"list-unsubscribe", b"list-unsubscribe-post"} <= covered
    tampered = data.replace(
        b"Auto-Submitted: auto-generated\r\nX-Auto", b"Auto-Submitted: no\r\nX-Auto"
    )
    tampered = re.sub(rb"(\r\nSubject: )", rb"\1Re: ", tampered, count=1)
    assert tampered != data and not dkim.verify(tampered, dnsfunc=dns(record))


def test_compose_signs_with_the_signer_given(key_pair: tuple[bytes, bytes]) -> None:
    pem, record = key_pair
    settings = _outbox_settings('[dkim]\ndomain = "example.com"\nselector = "s2026"\n')
    signer = make_signer(settings, Secrets(smtp_password=None, signing_key=None, dkim_key=pem))
    assert isinstance(signer, Signer)
    data = compose_notice(settings, reader(), NoticeKind.ALREADY, LINKS, NOW, signer=signer)
    assert dkim.verify(data, dnsfunc=dns(record))
    assert not compose_notice(settings, reader(), "already", LINKS, NOW).startswith(b"DKIM")


# --- golden files -----------------------------------------------------------------------


def _outbox_settings(extra: str = "") -> Settings:
    text = (
        f'[digest]\ntitle = "{TITLE}"\ncontact = "editor@example.com"\n'
        f'[outbox]\ndir = "outbox"\nfrom = "{TITLE} <digest@example.com>"\n'
        '[archive]\nbase_url = "https://digest.example.com/archive/"\n' + extra
    )
    return parse_settings(tomllib.loads(text), source=Path.cwd() / "digest.toml")


def _links_dict() -> dict[str, object]:
    return {
        "action": LINKS.action,
        "preferences": LINKS.preferences,
        "unsubscribe": LINKS.unsubscribe,
        "latest_issue": LINKS.latest_issue,
        "expires_hours": LINKS.expires_hours,
    }


def _masked(data: bytes) -> str:
    text = data.decode("ascii")
    boundaries = set(re.findall(r'boundary="([^"]+)"', text))
    assert len(boundaries) == 1
    text = text.replace(boundaries.pop(), "<boundary>")
    return re.sub(r"(Message-ID: <notice\.\w+\.42\.)[0-9a-f]{16}@", r"\1<random>@", text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_golden(kind: NoticeKind, language: str) -> None:
    data = compose_notice(_outbox_settings(), reader(language), kind, LINKS, NOW)
    actual = _masked(data)
    path = GOLDEN / f"notice_{kind}_{language}.eml"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_bytes(actual.encode("ascii"))
    assert path.exists(), f"{path} is missing: run with DIGEST_UPDATE_GOLDEN=1"
    assert actual == path.read_bytes().decode("ascii"), (
        f"{path.name} differs; if the change is intended, run with DIGEST_UPDATE_GOLDEN=1"
    )


# --- [templates] dir ---------------------------------------------------------------------


OWN_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ v.lang }}"><head><title>{{ subject }}</title><style>
{{ css }}
.own { color: #b00020; }
</style></head>
<body><p class="own">Our own notice: {{ t("notice_confirm_heading") }}</p>
<p><a class="button" href="{{ v.action_url }}">{{ t("notice_confirm_button") }}</a></p></body>
</html>
"""


@pytest.mark.network
def test_a_notice_template_in_templates_dir_is_used(
    tmp_path: Path, smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    own = tmp_path / "mytemplates"
    own.mkdir()
    (own / "notice_email.html.j2").write_text(OWN_TEMPLATE, encoding="utf-8")
    (own / "notice.css").write_text(".button { color: #00ff00; }\n", encoding="utf-8")
    _, settings = write_config(smtp_config(smtp_sink, f'[templates]\ndir = "{own.as_posix()}"\n'))
    send_notice(settings, NO_SECRETS, reader("en"), NoticeKind.CONFIRM, LINKS, NOW)

    text, page = parts(parsed(only(smtp_sink).data))
    assert "Our own notice: Confirm your subscription" in page
    assert 'class="own" style="color:#b00020"' in page  # premailer inlined our rule
    assert re.search(r'class="button"[^>]*style="[^"]*color:#0f0', page)  # our notice.css
    assert page.count(LINKS.action) == 1
    # The text part is still digest's own.
    assert "Confirm your subscription\n=========================" in text


def test_a_broken_notice_template_is_one_error_naming_the_file(tmp_path: Path) -> None:
    own = tmp_path / "mytemplates"
    own.mkdir()
    (own / "notice.txt.j2").write_text("{{ v.title }}\n{% if %}\n", encoding="utf-8")
    settings = _outbox_settings(f'[templates]\ndir = "{own.as_posix()}"\n')
    with pytest.raises(TemplateError, match=r"notice\.txt\.j2:2: syntax error"):
        compose_notice(settings, reader(), NoticeKind.CONFIRM, LINKS, NOW)


# --- hostile input ----------------------------------------------------------------------


HOSTILE_NAMES = [
    "Eve\r\nBcc: victim@evil.example",
    "Eve\nBcc: victim@evil.example",
    "Eve\rBcc: victim@evil.example",
    "山田\u2028Bcc: victim@evil.example",
    "Eve\x00\x85Bcc: victim@evil.example",
    'Mallory" <mallory@evil.example>, "Eve',
    "a, b <victim@evil.example>; c",
    "=?utf-8?q?x=0D=0ABcc=3A_victim=40evil=2Eexample?=",
    "\u202eelgooG",
    "x" * 300,
]
EXPECTED_HEADERS = {
    "from", "to", "subject", "date", "message-id", "auto-submitted",
    "x-auto-response-suppress", "list-id", "list-unsubscribe", "list-unsubscribe-post",
    "x-digest-notice", "mime-version", "content-type",
}  # fmt: skip


@pytest.mark.network
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_display_name_cannot_inject_headers_or_recipients(
    name: str, smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink))
    send_notice(settings, NO_SECRETS, reader(name=name), NoticeKind.WELCOME, LINKS, NOW)

    item = only(smtp_sink)
    assert item.rcpt_tos == (ADDRESS,)
    head = item.data.partition(b"\r\n\r\n")[0].decode("ascii")
    lines = head.split("\r\n")
    starts = {line.split(":", 1)[0].lower() for line in lines if not line[:1].isspace()}
    assert starts == EXPECTED_HEADERS, head
    assert "evil.example" not in "\n".join(
        line for line in lines if not line.lower().startswith(("to:", " ", "\t"))
    )
    msg = parsed(item.data)
    assert msg.get_all("Bcc") is None and msg.get_all("Cc") is None
    (to,) = msg["To"].addresses  # one recipient, whatever the name says
    assert to.addr_spec == ADDRESS
    if len(name) <= 200 and name.isprintable() and "=?" not in name:
        assert to.display_name == name  # quoted, not dropped
    else:
        assert to.display_name == ""  # not one clean line: left out


@pytest.mark.network
@pytest.mark.parametrize(
    "address",
    [f"{ADDRESS}\r\nBcc: victim@evil.example", f"{ADDRESS}, victim@evil.example", "no-at-sign"],
)
def test_an_address_that_is_not_one_plain_address_is_refused(
    address: str, smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink))
    with pytest.raises(AddressError, match="subscriber 42: not one plain address") as caught:
        send_notice(settings, NO_SECRETS, reader(email=address), "confirm", LINKS, NOW)
    assert "evil" not in str(caught.value) and not smtp_sink.received


@pytest.mark.parametrize(
    ("kind", "links", "missing"),
    [
        (NoticeKind.CONFIRM, NoticeLinks("", "", ""), "confirm"),
        (NoticeKind.CONFIRM, NoticeLinks("javascript:alert(1)//?token=1.s", "", ""), "confirm"),
        (NoticeKind.WELCOME, NoticeLinks("", LINKS.preferences, ""), "unsubscribe"),
        (NoticeKind.ALREADY, NoticeLinks("", "ftp://x.example/?token=1.s", "u"), "preferences"),
        (NoticeKind.WELCOME, NoticeLinks("", LINKS.preferences, LINKS.unsubscribe + "\n"), "unsub"),
    ],
)
def test_a_missing_or_unsafe_link_is_a_clear_error_without_the_link(
    kind: NoticeKind, links: NoticeLinks, missing: str
) -> None:
    with pytest.raises(ValueError, match=missing) as caught:
        compose_notice(_outbox_settings(), reader(), kind, links, NOW)
    assert "token" not in str(caught.value)


# --- failures and privacy -----------------------------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("reply", ["550 5.1.1 <yamada@example.jp>: no such user", "452 4.2.2 full"])
def test_a_refusal_raises_delivery_error_with_the_reason(
    reply: str, smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink))
    smtp_sink.refuse(ADDRESS, reply)
    with pytest.raises(DeliveryError) as caught:
        send_notice(settings, NO_SECRETS, reader(), NoticeKind.CONFIRM, LINKS, NOW)
    error = str(caught.value)
    code, _, words = reply.partition(" ")
    assert f"confirm notice to subscriber 42: smtp://127.0.0.1:{smtp_sink.port}" in error
    assert f"refused it: {code}" in error and words.rsplit(" ", 1)[-1] in error
    assert ADDRESS not in error and "token" not in error
    # Nothing chained: a traceback would show the unscrubbed reply.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not smtp_sink.received


def test_no_server_raises_delivery_error(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, settings = write_config(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n'
    )
    with pytest.raises(DeliveryError, match="cannot connect"):
        send_notice(settings, NO_SECRETS, reader(), NoticeKind.WELCOME, LINKS, NOW)


@pytest.mark.network
def test_a_dkim_setting_without_a_key_stops_before_sending(
    write_config: Callable[..., tuple[Path, Settings]], smtp_sink: SmtpSink
) -> None:
    _, settings = write_config(
        smtp_config(smtp_sink, '[dkim]\ndomain = "example.com"\nselector = "s"\n')
    )
    with pytest.raises(DigestError, match="DIGEST_DKIM_PRIVATE_KEY"):
        send_notice(settings, NO_SECRETS, reader(), NoticeKind.WELCOME, LINKS, NOW)
    assert not smtp_sink.received


@pytest.mark.network
def test_logs_and_errors_never_name_the_address_or_a_link(
    smtp_sink: SmtpSink,
    write_config: Callable[..., tuple[Path, Settings]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, settings = write_config(smtp_config(smtp_sink))
    caplog.set_level(logging.DEBUG)
    for kind in KINDS:
        send_notice(settings, NO_SECRETS, reader(), kind, LINKS, NOW)
    smtp_sink.refuse(ADDRESS, f"550 5.1.1 <{ADDRESS.upper()}> unknown")
    with pytest.raises(DeliveryError) as caught:
        send_notice(settings, NO_SECRETS, reader(), NoticeKind.CONFIRM, LINKS, NOW)
    ours = [r for r in caplog.records if r.name.startswith("digest")]
    said = [r.getMessage() for r in ours] + [str(caught.value)]
    assert any("welcome notice to subscriber 42" in line for line in said)
    for line in said:
        assert ADDRESS not in line.lower() and "token" not in line, line
    assert "<<the recipient>>" in str(caught.value)


def test_without_smtp_each_notice_is_a_file_of_its_own_in_the_outbox(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    _, settings = write_config('[digest]\ntitle = "Asian AI Hubs Weekly"\n')
    for kind in (NoticeKind.CONFIRM, NoticeKind.CONFIRM, NoticeKind.WELCOME):
        send_notice(settings, NO_SECRETS, reader(), kind, LINKS, NOW)
    files = sorted((settings.outbox_dir / "notices").iterdir())
    assert [f.name.split(".")[-3] for f in files].count("confirm") == 2 and len(files) == 3
    assert all(f.name.startswith(f"{ADDRESS}.") for f in files)
    msg = parsed(files[0].read_bytes())
    assert msg["From"] == "Asian AI Hubs Weekly <digest@localhost>"  # [outbox] from's default
    assert not (settings.outbox_dir / "test").exists()  # issues' test copies live there


# --- in a browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """Fail, not skip: CI must run these, and installs Chromium for them."""
    if shutil.which("chromium") is None:
        pytest.fail(browser.INSTALL_HINT, pytrace=False)
    return browser.find_chromium()


@pytest.mark.browser
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_notice_fits_a_phone_with_and_without_its_style_block(
    kind: NoticeKind, language: str, chromium: str, tmp_path: Path
) -> None:
    settings = _outbox_settings()
    page = parts(parsed(compose_notice(settings, reader(language), kind, LINKS, NOW)))[1]
    styled = tmp_path / "notice.html"
    styled.write_text(page, encoding="utf-8")
    bare = tmp_path / "notice-nostyle.html"
    bare.write_text(_STYLE.sub("", _COMMENT.sub("", page)), encoding="utf-8")

    layouts = {
        "styled": browser.measure_layouts(styled, (PHONE, EMAIL_WIDTH)),
        "no <style>": browser.measure_layouts(bare, (PHONE, EMAIL_WIDTH)),
    }
    if kind is NoticeKind.CONFIRM and language == "ja":
        shot = browser.screenshot(styled, PHONE, SCREENSHOT, layouts["styled"][PHONE].scroll_height)
        print(f"screenshot: {shot}")
    problems = [
        f"{which} at {width} px: {layout.describe()}"
        for which, by_width in layouts.items()
        for width, layout in by_width.items()
        if layout.overflows or layout.client_width != width
    ]
    assert not problems, "horizontal overflow:\n" + "\n".join(problems)
    for which, by_width in layouts.items():
        phone = by_width[PHONE]
        # The white card and the page colour come from inline styles alone.
        assert phone.styles[".container"]["backgroundColor"] == "rgb(255, 255, 255)", which
        assert phone.styles["body"]["backgroundColor"] == "rgb(238, 240, 243)", which
        for width, layout in by_width.items():
            # Without the @media rules the .outer cell keeps its 8 px gutters (inline).
            container = float(layout.styles[".container"]["width"].removesuffix("px"))
            assert min(width, EMAIL_WIDTH) - 16 <= container <= EMAIL_WIDTH, (which, width)
    for width in (PHONE, EMAIL_WIDTH):
        assert layouts["styled"][width].styles[".container"]["width"] == f"{width}px"
    assert layouts["no <style>"][PHONE].style_blocks == 0
