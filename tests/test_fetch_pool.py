"""gather's connection reuse (`digest.fetch.transport._Pool`) against a real
HTTP/1.1 keep-alive server on 127.0.0.1.

`digest.loopback.feedserver.FeedServer` speaks HTTP/1.0 (one request per
connection), so this file has a small keep-alive server of its own that counts
the connections it accepts and can close each one after its first answer, as
servers do when their keep-alive timeout ends. What is checked: feeds on one
host share a connection, a connection the server has closed is not reused (the
feed is fetched over a new one, no error), a request the server drops on a kept
connection is asked again on a new one, a body cut short never puts its
connection back, and a cookie set with a redirect goes back with the next hop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from digest.config import Settings, parse_settings
from digest.fetch.gather import FAILED, OK, gather
from digest.state.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>one</title><link>https://example.org/1</link><guid>g1</guid></item>"
    b"</channel></rss>"
)


class _KeepAlive(ThreadingHTTPServer):
    daemon_threads = True
    close_after_answer = False  # the server ends each connection once it has answered
    truncate = False  # announce more bytes than are sent, then end the connection
    drop_second = False  # end a connection, unanswered, when a second request comes on it

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _KeepAlive

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.answered = getattr(self, "answered", 0) + 1
        if self.path == "/cookie-wall.xml" and "seen=1" not in self.headers.get("Cookie", ""):
            # A site that sets a cookie and sends the reader back to the same page.
            self.send_response(302)
            self.send_header("Set-Cookie", "seen=1; Path=/")
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.server.drop_second and self.answered == 2:
            self.close_connection = True  # as a server whose keep-alive ran out just now
            return
        with self.server.lock:
            self.server.requests += 1
        body = FEED
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body) + (100 if self.server.truncate else 0)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if self.server.close_after_answer or self.server.truncate:
            # Without a "Connection: close": the client learns it from the socket.
            self.close_connection = True


@pytest.fixture
def keepalive() -> Iterator[_KeepAlive]:
    server = _KeepAlive()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _settings(server: _KeepAlive, feeds: int, tmp_path: Path) -> Settings:
    port = server.server_address[1]
    return parse_settings(
        {
            "feeds": [{"url": f"http://127.0.0.1:{port}/f{n}.xml"} for n in range(feeds)],
            # One request at a time: each feed finds the previous one's connection idle.
            "gather": {"concurrency": 1, "timeout": 5.0, "allow_private": ["127.0.0.1"]},
            "storage": {"path": str(tmp_path / "db.sqlite3")},
        },
        Path("test.toml"),
    )


def test_feeds_on_one_host_share_a_keep_alive_connection(
    keepalive: _KeepAlive, tmp_path: Path
) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        report = gather(_settings(keepalive, 5, tmp_path), store, NOW, parse_workers=0)
    assert [r.status for r in report.results] == [OK] * 5
    assert keepalive.requests == 5 and keepalive.connections == 1


def test_a_connection_the_server_closed_is_not_reused(
    keepalive: _KeepAlive, tmp_path: Path
) -> None:
    keepalive.close_after_answer = True
    with Store(tmp_path / "db.sqlite3") as store:
        report = gather(_settings(keepalive, 4, tmp_path), store, NOW, parse_workers=0)
    assert [r.status for r in report.results] == [OK] * 4
    assert keepalive.requests == 4 and keepalive.connections == 4


def test_a_request_on_a_kept_connection_the_server_drops_is_asked_again_on_a_new_one(
    keepalive: _KeepAlive, tmp_path: Path
) -> None:
    keepalive.drop_second = True
    with Store(tmp_path / "db.sqlite3") as store:
        report = gather(_settings(keepalive, 3, tmp_path), store, NOW, parse_workers=0)
    assert [r.status for r in report.results] == [OK] * 3
    assert keepalive.requests == 3 and keepalive.connections == 3


def test_a_cookie_set_with_a_redirect_is_sent_back(keepalive: _KeepAlive, tmp_path: Path) -> None:
    port = keepalive.server_address[1]
    settings = parse_settings(
        {
            "feeds": [{"url": f"http://127.0.0.1:{port}/cookie-wall.xml"}],
            "gather": {"timeout": 5.0, "allow_private": ["127.0.0.1"]},
        },
        Path("test.toml"),
    )
    with Store(tmp_path / "db.sqlite3") as store:
        report = gather(settings, store, NOW, parse_workers=0)
    assert [r.status for r in report.results] == [OK], report.summary_lines()


def test_a_body_cut_short_fails_its_feed_and_its_connection_is_not_reused(
    keepalive: _KeepAlive, tmp_path: Path
) -> None:
    keepalive.truncate = True
    with Store(tmp_path / "db.sqlite3") as store:
        report = gather(_settings(keepalive, 3, tmp_path), store, NOW, parse_workers=0)
    assert [r.status for r in report.results] == [FAILED] * 3
    assert all(r.error == "failed: the connection broke off" for r in report.results)
    assert keepalive.connections == 3


def test_the_tls_context_is_made_for_the_first_https_origin_only() -> None:
    import ssl

    import httpcore

    from digest.fetch.addresses import AddressPolicy
    from digest.fetch.transport import GuardedBackend, _Pool

    pool = _Pool(GuardedBackend(AddressPolicy()), 16)
    pool._open(httpcore.URL("http://example.org/feed"))
    assert pool._ssl_context is None  # no CAs loaded for plain http
    pool._open(httpcore.URL("https://example.org/feed"))
    first = pool._ssl_context
    assert isinstance(first, ssl.SSLContext)
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    pool._open(httpcore.URL("https://example.net/feed"))
    assert pool._ssl_context is first
