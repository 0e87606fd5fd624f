"""DKIM: messages received over real SMTP verify with the public key.

We sign with OpenSSL (`digest.mail.signing`); dkimpy, an independent
implementation, verifies every message these tests send signed."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from digest.cli import main
from digest.config import DkimSettings, Settings
from digest.credentials import load_secrets
from digest.errors import ConfigError, SecretMissing
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import SmtpSink
from digest.mail.signing import Signer, make_signer, whole_body_hash

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


@pytest.fixture(scope="module")
def ed_key_pair() -> tuple[bytes, bytes]:
    """(PEM Ed25519 private key, its DNS TXT record: the raw 32-byte key, RFC 8463)."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)


def dns(record: bytes, ed_record: bytes = b"") -> Callable[..., bytes | None]:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        if name == b"ed2026._domainkey.example.com.":
            return ed_record or None
        return record if name == b"s2026._domainkey.example.com." else None

    return lookup


def verify_all(data: bytes, lookup: Callable[..., bytes | None]) -> int:
    """How many DKIM-Signature headers `data` has; every one must verify (dkimpy)."""
    count = len(re.findall(rb"^DKIM-Signature:", data, re.M))
    for idx in range(count):
        assert dkim.DKIM(data).verify(idx=idx, dnsfunc=lookup), f"signature {idx} fails"
    return count


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


ED = DkimSettings("example.com", "s2026", ed25519_selector="ed2026")


def test_both_signatures_verify_and_fold(
    key_pair: tuple[bytes, bytes], ed_key_pair: tuple[bytes, bytes]
) -> None:
    """RSA on top, Ed25519 below; each verifies; header lines stay under 78 octets;
    folded headers, runs of spaces, trailing spaces and empty lines at the end of
    the body are canonicalised like dkimpy does."""
    (pem, record), (ed_pem, ed_record) = key_pair, ed_key_pair
    signer = Signer(ED, pem, ed_pem)
    message = (
        b"From: =?utf-8?b?44Ki44K444KiQUnjg4/jg5bpgLHloLE=?= <digest@example.com>\r\n"
        b"To: =?utf-8?b?5bGx55Sw?=\r\n =?utf-8?b?5aSq6YOO?= <taro@example.jp>\r\n"
        b"Subject:   A  subject\r\n\tfolded\ttwice \r\n  and again\r\n"
        b"Date: Mon, 23 Nov 2026 08:00:00 +0900\r\n"
        b"X-Not-Signed: anything\r\n\r\n"
        b"body  with   runs \t\r\nand trailing spaces   \r\n\r\n\r\n"
    )
    data = signer.sign(message)
    assert data.endswith(message)
    lookup = dns(record, ed_record)
    assert verify_all(data, lookup) == 2
    assert b"a=rsa-sha256" in data.split(b"DKIM-Signature:")[1]
    assert b"a=ed25519-sha256" in data.split(b"DKIM-Signature:")[2]
    signature_lines = data[: len(data) - len(message)].split(b"\r\n")
    assert max(len(line) for line in signature_lines) <= 78
    # dkimpy verifies an altered body or covered header as failing, for both.
    for tampered in (
        data.replace(b"body  with", b"body with!"),
        data.replace(b"taro@example.jp", b"jiro@example.jp"),
    ):
        for idx in (0, 1):
            try:
                ok = dkim.DKIM(tampered).verify(idx=idx, dnsfunc=lookup)
            except dkim.ValidationError:  # dkimpy raises on a body hash mismatch
                ok = False
            assert not ok
    # A header not in h= may change; whitespace changes survive relaxed canonicalisation.
    relaxed = data.replace(b"X-Not-Signed: anything", b"X-Not-Signed: other").replace(
        b"runs \t\r\n", b"runs\r\n"
    )
    assert verify_all(relaxed, lookup) == 2
    # The empty body: relaxed canonical form is empty (RFC 6376 3.4.4).
    assert whole_body_hash(b"\r\n\r\n") == whole_body_hash(b"")


def test_the_signature_head_made_once_a_second_fits_each_message(
    key_pair: tuple[bytes, bytes], ed_key_pair: tuple[bytes, bytes]
) -> None:
    """The DKIM-Signature head (up to bh=) is reused within one second for the same
    signed headers: a message with other headers, or in the next second, gets its
    own h= and t=, and every one verifies with dkimpy."""
    (pem, record), (ed_pem, ed_record) = key_pair, ed_key_pair
    signer = Signer(ED, pem, ed_pem)
    lookup = dns(record, ed_record)
    body = b"the same body\r\n"
    with_subject = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n"
    without = b"From: a@example.com\r\nTo: c@example.org\r\n"
    cases = [(with_subject, 1_795_000_000.2), (without, 1_795_000_000.7)]
    cases += [(with_subject, 1_795_000_000.9), (with_subject, 1_795_000_001.1)]
    for headers, now in cases:
        signatures = signer.signatures(headers, whole_body_hash(body), now=now)
        data = signatures + headers + b"\r\n" + body
        assert verify_all(data, lookup) == 2
        assert signatures.count(b"t=%d;" % int(now)) == 2
        h = re.search(rb"h=([^;]*);", signatures.replace(b"\r\n ", b""))
        assert h is not None
        assert (b"subject" in h.group(1)) == (b"Subject" in headers)


def test_an_ed25519_seed_in_dknewkey_form_is_accepted(key_pair: tuple[bytes, bytes]) -> None:
    pem, record = key_pair
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    data = Signer(ED, pem, base64.b64encode(seed) + b"\n").sign(b"From: a@example.com\r\n\r\nx\r\n")
    assert verify_all(data, dns(record, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw))) == 2


@pytest.mark.parametrize("which", ["garbage", "ed25519 as rsa", "rsa as ed25519", "no ed25519 key"])
def test_a_key_in_the_wrong_form_is_one_clear_line(
    which: str, key_pair: tuple[bytes, bytes], ed_key_pair: tuple[bytes, bytes]
) -> None:
    pem, ed_pem = key_pair[0], ed_key_pair[0]
    cases = {
        "garbage": (DkimSettings("example.com", "s2026"), b"-----BEGIN nonsense", None),
        "ed25519 as rsa": (DkimSettings("example.com", "s2026"), ed_pem, None),
        "rsa as ed25519": (ED, pem, pem),
        "no ed25519 key": (ED, pem, None),
    }
    settings, key, ed_key = cases[which]
    with pytest.raises(SecretMissing) as caught:
        Signer(settings, key, ed_key)
    message = caught.value.message  # and a hint on a line of its own
    assert "\n" not in message and "DIGEST_DKIM_" in message, message
    assert "OpenSSL" not in message


def test_a_send_with_both_keys_and_cjk_names_verifies_every_message(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: Callable[..., tuple[Path, Settings]],
    secret: str,
    key_pair: tuple[bytes, bytes],
    ed_key_pair: tuple[bytes, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through `digest send` (the delivery path, bodies hashed from shared pieces):
    a CJK From and To display name, RFC 2047 encoded and folded; both signatures."""
    (pem, record), (ed_pem, ed_record) = key_pair, ed_key_pair
    key_file = tmp_path / "ed.pem"
    key_file.write_bytes(ed_pem)
    monkeypatch.setenv("DIGEST_DKIM_PRIVATE_KEY", pem.decode().replace("\n", "\\n"))
    monkeypatch.setenv("DIGEST_DKIM_ED25519_KEY_FILE", str(key_file))
    feed_server["/f.xml"] = Route(FEED)
    config, _ = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/f.xml")}"\n'
        f'[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\nsecurity = "none"\n'
        'from = "アジア人工知能ハブ週報・編集部からのお知らせ <digest@example.com>"\n'
        '[dkim]\ndomain = "example.com"\nselector = "s2026"\ned25519_selector = "ed2026"\n'
    )
    readers = [
        ("ann@example.com", ""),
        ("taro@example.jp", "山田太郎（やまだ・たろう）東京都千代田区の人工知能研究所所属"),
        ("min@example.kr", "김민준"),
    ]
    for address, name in readers:
        args = ["subscribers", "add", address] + (["--name", name] if name else [])
        assert main(["--config", str(config), *args]) == 0
    assert main(["--config", str(config), "gather"]) == 0
    assert main(["--config", str(config), "send", "--week", WEEK]) == 0
    assert main(["--config", str(config), "send", "--week", WEEK, "--to", "me@example.net"]) == 0
    received = smtp_sink.received
    assert len(received) == 4
    lookup = dns(record, ed_record)
    for item in received:
        assert verify_all(item.data, lookup) == 2
        assert dkim.verify(item.data, dnsfunc=lookup)
    taro = next(i.data for i in received if b"taro@example.jp>" in i.data)
    to = re.search(rb"^To: .*?(?=\r\n\S)", taro, re.M | re.S)
    assert to is not None and b"\r\n " in to.group(0) and b"=?utf-8?" in to.group(0)


def test_the_ed25519_selector_and_key_come_from_config_and_env(
    write_config: Callable[..., tuple[Path, Settings]],
    key_pair: tuple[bytes, bytes],
    ed_key_pair: tuple[bytes, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The selector in [dkim]; the key file named in .env is relative to the .env."""
    with pytest.raises(ConfigError, match="ed25519_selector"):
        write_config('[dkim]\ndomain = "example.com"\nselector = "s"\ned25519_selector = "s"\n')
    _, settings = write_config(
        '[dkim]\ndomain = "example.com"\nselector = "s2026"\ned25519_selector = "ed2026"\n'
    )
    assert settings.dkim is not None and settings.dkim.ed25519_selector == "ed2026"
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ed.pem").write_bytes(ed_key_pair[0])
    env = tmp_path / ".env"
    env.write_text("DIGEST_DKIM_ED25519_KEY_FILE=keys/ed.pem\n", encoding="utf-8")
    monkeypatch.setenv("DIGEST_DKIM_PRIVATE_KEY", key_pair[0].decode())
    secrets = load_secrets(env)
    assert secrets.dkim_ed25519_key == ed_key_pair[0]
    signer = make_signer(settings, secrets)
    assert signer is not None
    data = signer.sign(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")
    assert verify_all(data, dns(key_pair[1], ed_key_pair[1])) == 2
