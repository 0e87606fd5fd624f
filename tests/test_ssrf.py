"""No server-side request forgery: feeds are fetched from public addresses only.

Three layers, each tested for what it owns:
- `not_public` / `AddressPolicy` (pure): every kind of non-public address, IPv4
  and IPv6, in the forms that carry an IPv4 address inside.
- `resolve_checked` and `GuardedBackend.connect_tcp`: host text in any notation
  (decimal, hex, octal, short forms) → refused before a socket exists. Non-loopback
  targets are only ever given to these, with a tripwire on the interpreter's
  `socket.connect` audit event that blocks (and counts) any connect at all.
- End to end through `gather`: loopback notations against a real FeedServer on
  127.0.0.1, whose log proves it received no request when not allowlisted.

This machine may send traffic to loopback only: no test here passes a
non-loopback address to anything that could connect.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from digest.config import Settings, parse_settings
from digest.fetch.addresses import (
    AddressPolicy,
    AddressRefused,
    check_addresses,
    not_public,
    resolve_checked,
    shown,
)
from digest.fetch.gather import FAILED, OK, gather
from digest.fetch.transport import PRIVATE_HOP_OK, GuardedBackend
from digest.loopback.feedserver import FeedServer, Route
from digest.state.store import Store

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Loopback secret</title><link>https://example.org/1</link></item>"
    b"</channel></rss>"
)

# -- a tripwire: no connect() leaves this process while it is armed -------------

_connects: list[object] = []
_armed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _armed:
        _connects.append(args[1])
        raise RuntimeError(f"tripwire: a socket tried to connect to {args[1]!r}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one is inert unless armed


@contextmanager
def tripwire() -> Iterator[list[object]]:
    """Any socket.connect inside raises before the system call, and is recorded."""
    global _armed
    _connects.clear()
    _armed = True
    try:
        yield _connects
    finally:
        _armed = False


# -- the pure classifier -----------------------------------------------------------

NOT_PUBLIC = {
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "172.31.255.255": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "100.64.0.1": "shared (carrier-grade NAT)",
    "0.0.0.0": "unspecified",
    "0.1.2.3": "private",  # "this network"
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.1": "private",  # documentation
    "198.18.0.1": "private",  # benchmarking
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fec0::1": "site-local",
    "ff02::1": "multicast",
    "2001:db8::1": "private",  # documentation
    "2001::1": "private",  # Teredo
    "::ffff:127.0.0.1": "loopback 127.0.0.1, inside an IPv6 address",
    "::ffff:7f00:1": "loopback 127.0.0.1, inside an IPv6 address",
    "::ffff:10.0.0.1": "private 10.0.0.1, inside an IPv6 address",
    "::ffff:169.254.169.254": "link-local 169.254.169.254, inside an IPv6 address",
    "::127.0.0.1": "loopback 127.0.0.1, inside an IPv6 address",  # IPv4-compatible
    "::8.8.8.8": "reserved",  # the IPv4-compatible block itself
    "2002:7f00:1::": "loopback 127.0.0.1, inside an IPv6 address",  # 6to4
    "2002:a00:1::1": "private 10.0.0.1, inside an IPv6 address",
    "64:ff9b::7f00:1": "loopback 127.0.0.1, inside an IPv6 address",  # NAT64
    "64:ff9b::a9fe:a9fe": "link-local 169.254.169.254, inside an IPv6 address",
    "64:ff9b:1::1": "local-use NAT64",
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8",
          "2002:808:808::1", "64:ff9b::808:808"]  # fmt: skip


@pytest.mark.parametrize("address", list(NOT_PUBLIC))
def test_every_kind_of_non_public_address_is_named(address: str) -> None:
    assert not_public(ip_address(address)) == NOT_PUBLIC[address]
    assert AddressPolicy().refusal(ip_address(address)) == (
        f"not a public address ({shown(ip_address(address))}: {NOT_PUBLIC[address]})"
    )


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert not_public(ip_address(address)) is None
    assert AddressPolicy().refusal(ip_address(address)) is None


def test_the_allowlist_opens_exactly_its_networks() -> None:
    policy = AddressPolicy((ip_network("10.1.2.0/24"), ip_network("127.0.0.1/32")))
    assert policy.refusal(ip_address("10.1.2.7")) is None
    assert policy.refusal(ip_address("10.1.3.7")) is not None
    assert policy.refusal(ip_address("127.0.0.1")) is None
    assert policy.refusal(ip_address("127.0.0.2")) is not None
    # An IPv4-mapped address reaches the IPv4 one: the IPv4 allowlist applies.
    assert policy.refusal(ip_address("::ffff:127.0.0.1")) is None
    assert policy.refusal(ip_address("::1")) is not None  # ::1 is not 127.0.0.1
    assert policy.is_private(ip_address("10.1.2.7"))
    assert not policy.is_private(ip_address("8.8.8.8"))


def test_a_name_with_one_bad_address_among_good_ones_is_refused() -> None:
    with pytest.raises(AddressRefused, match=r"not a public address \(10\.0\.0\.1: private\)"):
        check_addresses("mixed.example", ["8.8.8.8", "10.0.0.1"], AddressPolicy())
    assert check_addresses("ok.example", ["8.8.8.8", "8.8.8.8"], AddressPolicy()) == ["8.8.8.8"]
    with pytest.raises(AddressRefused, match="resolves to no address"):
        check_addresses("empty.example", [], AddressPolicy())


# -- resolving host text, refused before any socket --------------------------------

# Host text as a URL may carry it → the address getaddrinfo makes of it. All are
# numeric (no DNS query is sent for them: asserted with AI_NUMERICHOST first).
NOTATIONS = {
    "10.0.0.1": "10.0.0.1",
    "167772161": "10.0.0.1",  # decimal integer
    "0xa000001": "10.0.0.1",  # hex integer
    "0xa.0.0.1": "10.0.0.1",  # hex part
    "012.0.0.1": "10.0.0.1",  # octal part
    "10.1": "10.0.0.1",  # short form
    "169.254.169.254": "169.254.169.254",
    "2852039166": "169.254.169.254",
    "0xa9.0xfe.0xa9.0xfe": "169.254.169.254",
    "0251.0376.0251.0376": "169.254.169.254",
    "169.254.43518": "169.254.169.254",
    "192.168.1": "192.168.0.1",
    "127.0.0.1": "127.0.0.1",
    "127.1": "127.0.0.1",
    "2130706433": "127.0.0.1",
    "0x7f.1": "127.0.0.1",
    "0177.0.0.1": "127.0.0.1",
    "0x7f000001": "127.0.0.1",
    "0": "0.0.0.0",
    "::1": "::1",
    "::ffff:127.0.0.1": "::ffff:127.0.0.1",
    "::ffff:a00:1": "::ffff:10.0.0.1",
    "::ffff:169.254.169.254": "::ffff:169.254.169.254",
    "fe80::1": "fe80::1",
    "fd00::1": "fd00::1",
    "64:ff9b::a9fe:a9fe": "64:ff9b::a9fe:a9fe",
}


@pytest.mark.parametrize("host", list(NOTATIONS))
def test_every_notation_is_refused_before_a_socket_exists(host: str) -> None:
    numeric = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    assert {i[4][0] for i in numeric} == {NOTATIONS[host]}  # no DNS: a literal
    backend = GuardedBackend(AddressPolicy())
    with tripwire() as connects:
        with pytest.raises(AddressRefused, match="not a public address") as refused:
            asyncio.run(resolve_checked(host, 80, AddressPolicy()))
        assert NOTATIONS[host] in refused.value.reason
        # The backend httpx connects through refuses the same way, before connecting.
        with pytest.raises(AddressRefused, match="not a public address"):
            asyncio.run(backend.connect_tcp(host, 80, timeout=1.0))
    assert connects == [] and backend.connects == []


def test_the_allowlist_does_not_hold_for_a_hop_that_left_public_addresses() -> None:
    backend = GuardedBackend(AddressPolicy((ip_network("10.0.0.0/8"),)))

    async def hop_from_public() -> None:
        PRIVATE_HOP_OK.set(False)  # what the fetcher sets after a hop to a public address
        await backend.connect_tcp("10.0.0.1", 80, timeout=1.0)

    with tripwire() as connects, pytest.raises(AddressRefused, match=r"10\.0\.0\.1: private"):
        asyncio.run(hop_from_public())
    assert connects == []


# -- end to end, on loopback only ---------------------------------------------------

LOOPBACK_FORMS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "localhost",
]


def settings(urls: list[str], **gather_options: Any) -> Settings:
    options: dict[str, Any] = {"timeout": 5.0}
    options.update(gather_options)
    return parse_settings(
        {"feeds": [{"url": u} for u in urls], "gather": options}, Path("test.toml")
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "db.sqlite3") as s:
        yield s


@pytest.mark.network
def test_loopback_in_every_notation_is_refused_and_the_listener_hears_nothing(
    store: Store,
) -> None:
    with FeedServer() as server:
        server["/feed.xml"] = Route(FEED)
        urls = [f"http://{form}:{server.port}/feed.xml" for form in LOOPBACK_FORMS]
        urls.append(f"http://0177.0.0.1:{server.port}/feed.xml")  # octal: httpx refuses it
        with tripwire() as connects:
            report = gather(settings(urls), store, NOW)
        assert server.request_headers == [] and server.requests == []
    assert connects == []
    results = {r.url: r for r in report.results}
    for form, url in zip(LOOPBACK_FORMS, urls, strict=False):
        result = results[url]
        assert result.status == FAILED, form
        assert result.error is not None and result.error.startswith(
            "refused: not a public address ("
        ), (form, result.error)
        assert "loopback" in result.error and "allow it in [gather] allow_private" in result.error
    octal = results[urls[-1]]
    assert octal.status == FAILED and (octal.error or "").startswith("refused: invalid URL")
    assert store.count_posts() == 0
    assert report.all_failed
    assert (
        report.summary_lines()[0] == f"FAILED  {urls[0]}: refused: not a public address "
        "(127.0.0.1: loopback); allow it in [gather] allow_private"
    )
    assert store.feed_state(urls[0]).last_error == (
        "refused: not a public address (127.0.0.1: loopback); allow it in [gather] allow_private"
    )


@pytest.mark.network
def test_the_same_forms_are_fetched_once_allowlisted(store: Store) -> None:
    with FeedServer() as server:
        server["/feed.xml"] = Route(FEED)
        forms = [f for f in LOOPBACK_FORMS if f != "[::1]"]  # the server listens on IPv4 only
        urls = [f"http://{form}:{server.port}/feed.xml" for form in forms]
        report = gather(settings(urls, allow_private=["127.0.0.0/8"]), store, NOW)
        assert len(server.requests) == len(forms)
    assert [r.status for r in report.results] == [OK] * len(forms)


@pytest.mark.network
@pytest.mark.parametrize("target", [*LOOPBACK_FORMS, "0177.0.0.1"])
def test_a_redirect_to_a_loopback_notation_is_refused_before_it_is_requested(
    store: Store, target: str
) -> None:
    # The first hop is allowed (the IPv6-mapped form only); every IPv4 notation of
    # the same listener, and ::1, is not: the redirect target is never requested.
    with FeedServer() as server:
        server["/start"] = Route(
            b"", status=302, headers={"Location": f"http://{target}:{server.port}/secret.xml"}
        )
        server["/secret.xml"] = Route(FEED)
        allowed = ["::ffff:127.0.0.1"]
        if target in ("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"):
            allowed = ["::ffff:127.0.0.1/128"]  # the same address: allowed, and fetched
        url = f"http://[::ffff:127.0.0.1]:{server.port}/start"
        report = gather(settings([url], allow_private=allowed), store, NOW)
        secret_hits = server.hits("/secret.xml")
        assert server.hits("/start") == [302]
    [result] = report.results
    if target in ("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"):
        assert result.status == OK and secret_hits == [200]
        return
    assert secret_hits == []
    assert result.status == FAILED
    if target == "0177.0.0.1":
        assert (result.error or "").startswith("refused: redirect to an invalid URL")
    else:
        assert (result.error or "").startswith("refused: redirect target not a public address (")
    assert store.count_posts() == 0


@contextmanager
def tls_server(
    tmp_path: Path, routes: dict[str, tuple[int, dict[str, str], bytes]]
) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 with a certificate from a test CA that
    `SSL_CERT_FILE` makes trusted; answers `routes` (path → status, headers, body)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    start, end = datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
        .public_key(ca_key.public_key()).serial_number(1).not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(name("test CA"))
        .public_key(key.public_key()).serial_number(2).not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(
        cert.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.network
def test_https_to_http_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FeedServer() as plain:
        plain["/feed.xml"] = Route(FEED)
        routes = {
            "/down": (301, {"Location": plain.url("/feed.xml")}, b""),
            "/feed.xml": (200, {"Content-Type": "application/rss+xml"}, FEED),
        }
        with tls_server(tmp_path, routes) as port:
            monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
            urls = [f"https://127.0.0.1:{port}/down", f"https://127.0.0.1:{port}/feed.xml"]
            report = gather(settings(urls, allow_private=["127.0.0.1"]), store, NOW)
        assert plain.requests == []  # the http target was never asked
    down, feed = report.results
    assert down.status == FAILED
    assert down.error == f"refused: redirect from https to http ({plain.url('/feed.xml')})"
    assert feed.status == OK and feed.new_posts == 1  # https itself works (SNI, CA, Host)


@pytest.mark.network
def test_a_certificate_no_trusted_ca_signed_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same server as above, but its test CA is not trusted: TLS must fail,
    # and the feed is reported, never read.
    routes = {"/feed.xml": (200, {"Content-Type": "application/rss+xml"}, FEED)}
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with tls_server(tmp_path, routes) as port:
        url = f"https://127.0.0.1:{port}/feed.xml"
        report = gather(settings([url], allow_private=["127.0.0.1"]), store, NOW)
    (result,) = report.results
    assert result.status == FAILED
    assert result.error == (
        "failed: TLS certificate not accepted (unable to get local issuer certificate)"
    ), result.error
    assert store.count_posts() == 0


@pytest.mark.network
def test_a_certificate_for_another_name_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trusted CA, but the certificate names 127.0.0.1, not "localhost".
    routes = {"/feed.xml": (200, {"Content-Type": "application/rss+xml"}, FEED)}
    with tls_server(tmp_path, routes) as port:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        url = f"https://localhost:{port}/feed.xml"
        report = gather(settings([url], allow_private=["127.0.0.1", "::1"]), store, NOW)
    (result,) = report.results
    assert result.status == FAILED
    assert (result.error or "").startswith(
        "failed: TLS certificate not accepted (Hostname mismatch"
    )
    assert store.count_posts() == 0
