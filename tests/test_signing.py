"""DKIM: messages received over real SMTP verify with the public key."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.cli import main
from digest.config import DkimSettings, Settings
from digest.errors import SecretMissing
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import SmtpSink
from digest.mail.signing import Signer

pytestmark = pytest.mark.network

WEEK = "2026-W47"
FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>Samsung opens AI lab in Pangyo</title><link>https://kr.example/1</link>"
    b"<pubDate>Tue, 17 Nov 2026 09:00:00 +0900</pubDate></item></channel></rss>"
)


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


def test_sent_messages_carry_a_valid_signature(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: Callable[..., tuple[Path, Settings]],
    secret: str,
    key_pair: tuple[bytes, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pem, record = key_pair
    monkeypatch.setenv("DIGEST_DKIM_PRIVATE_KEY", pem.decode().replace("\n", "\\n"))
    feed_server["/f.xml"] = Route(FEED)
    config, _ = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/f.xml")}"\n'
        f'[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\nsecurity = "none"\n'
        'from = "アジアAIハブ週報 <digest@example.com>"\n'
        '[dkim]\ndomain = "example.com"\nselector = "s2026"\n'
    )
    for address in ("ann@example.com", "bob@example.org"):
        assert main(["--config", str(config), "subscribers", "add", address]) == 0
    assert main(["--config", str(config), "gather"]) == 0
    assert main(["--config", str(config), "send", "--week", WEEK]) == 0
    assert main(["--config", str(config), "send", "--week", WEEK, "--to", "me@example.net"]) == 0
    received = smtp_sink.received
    assert len(received) == 3
    for item in received:
        assert item.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(item.data, dnsfunc=dns(record))
        signed = re.search(rb"h=([^;]+);", item.data.replace(b"\r\n", b"").replace(b" ", b""))
        assert signed is not None
        covered = set(signed.group(1).lower().split(b":"))
        assert {b"from", b"subject", b"date", b"message-id", b"list-unsubscribe",
                b"list-unsubscribe-post"} <= covered  # fmt: skip
        tampered = item.data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                                     b"List-Unsubscribe-Post: nothing")  # fmt: skip
        assert tampered != item.data and not dkim.verify(tampered, dnsfunc=dns(record))


def test_a_bad_or_missing_key_stops_before_sending(
    key_pair: tuple[bytes, bytes],
    capsys: pytest.CaptureFixture[str],
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    secret: str,
    write_config: Callable[..., tuple[Path, Settings]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SecretMissing, match="cannot sign"):
        Signer(DkimSettings("example.com", "s2026"), b"not a key")
    feed_server["/f.xml"] = Route(FEED)
    config, _ = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/f.xml")}"\n'
        f'[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n[dkim]\ndomain = "example.com"\nselector = "s"\n'
    )
    assert main(["--config", str(config), "subscribers", "add", "ann@example.com"]) == 0
    assert main(["--config", str(config), "gather"]) == 0
    assert main(["--config", str(config), "send", "--week", WEEK]) == 2
    assert "DIGEST_DKIM_PRIVATE_KEY" in capsys.readouterr().err
    assert not smtp_sink.received
