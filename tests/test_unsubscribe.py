"""The one-click unsubscribe endpoint, attacked over a real socket.

`wsgiref.simple_server` on 127.0.0.1 in a thread, raw bytes written to it: every
malformed request gets a 400 at once (never a 500, never a server that waits
for EOF), and a good token still unsubscribes.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from digest.models import Subscriber
from digest.state.store import Store
from digest.tokens import make_token
from digest.web.unsubscribe import make_wsgi_app

KEY = b"unsubscribe-test-key-0123456789"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[int, Path, Subscriber]]:
    db = tmp_path / "db.sqlite3"
    with Store(db) as store:
        reader, _ = store.add_subscriber("reader@example.com", "", datetime.now(UTC))
    server: WSGIServer = make_server("127.0.0.1", 0, make_wsgi_app(db, KEY), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], db, reader
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def raw(port: int, request: bytes, *, close: bool = True) -> bytes:
    """Send `request`; without `close` the client keeps its side open (a slow
    or hostile client): the server must answer anyway, not wait for EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        if close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def post(path: str, body: bytes, length: str | None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return head.encode() + b"\r\n" + body


def other_purpose(sub: Subscriber) -> str:
    message = f"digest-confirm\n{sub.id}\n{sub.email}".encode()
    sig = hmac.new(KEY, message, hashlib.sha256).digest()[:16]
    import base64

    return f"{sub.id}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def get(query: str) -> bytes:
    return f"GET /?{query} HTTP/1.0\r\n\r\n".encode()


def sig(token: str) -> str:
    return token.partition(".")[2]


ABUSE = [
    ("length-abc", lambda t: post(f"/?token={t}", b"List-Unsubscribe=One-Click", "abc")),
    ("length-minus-1", lambda t: post(f"/?token={t}", b"x", "-1")),
    ("length-huge", lambda t: post(f"/?token={t}", b"x", "99999999999999999999")),
    ("length-5000", lambda t: post(f"/?token={t}", b"x" * 5000, "5000")),
    ("length-plus", lambda t: post(f"/?token={t}", b"x", "+1")),
    ("length-arabic-digit", lambda t: post(f"/?token={t}", b"x", "\u0661".encode().decode("latin-1"))),  # noqa: E501
    ("length-longer-than-body", lambda t: post(f"/?token={t}", b"abc", "100")),
    ("unicode-digit-id", lambda t: get(f"token=%C2%B2.{sig(t)}")),
    ("id-too-large", lambda t: get(f"token={2**63}.{sig(t)}")),
    ("id-20-digits", lambda t: f"GET /?token={'9' * 20}.abc HTTP/1.0\r\n\r\n".encode()),
    ("id-zero", lambda t: f"GET /?token=0.{t.partition('.')[2]} HTTP/1.0\r\n\r\n".encode()),
    ("empty-token", lambda t: b"GET /?token= HTTP/1.0\r\n\r\n"),
    ("no-token", lambda t: b"GET / HTTP/1.0\r\n\r\n"),
    ("two-tokens", lambda t: f"GET /?token={t}&token={t} HTTP/1.0\r\n\r\n".encode()),
    ("no-signature", lambda t: f"GET /?token={t.partition('.')[0]}. HTTP/1.0\r\n\r\n".encode()),
    ("bad-percent", lambda t: f"GET /?token=%ZZ{t} HTTP/1.0\r\n\r\n".encode()),
    ("forged", lambda t: f"GET /?token={t[:-2]}AA HTTP/1.0\r\n\r\n".encode()),
    ("many-fields", lambda t: get("&".join(f"a{i}=1" for i in range(50)) + f"&token={t}")),
    ("body-not-ascii", lambda t: post("/", b"token=\xff\xfe", "8")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make"), ABUSE, ids=[a[0] for a in ABUSE])
def test_malformed_requests_get_400_and_change_nothing(
    endpoint: tuple[int, Path, Subscriber], case: str, make: object
) -> None:
    port, db, reader = endpoint
    token = make_token(KEY, reader)
    request = make(token)  # type: ignore[operator]
    # The client keeps its side open: no EOF to wait for. Only a body shorter than
    # its announced length needs the client to close (a server cannot know the
    # rest is not coming; a front server's read timeout covers a silent client).
    response = raw(port, request, close=case == "length-longer-than-body")
    assert status(response) == 400, response[:200]
    with Store(db) as store:
        assert store.subscriber(reader.id).status == "active"  # type: ignore[union-attr]


def test_a_token_signed_for_another_purpose_is_refused(
    endpoint: tuple[int, Path, Subscriber],
) -> None:
    port, db, reader = endpoint
    token = other_purpose(reader)
    response = raw(port, post(f"/?token={token}", b"List-Unsubscribe=One-Click", "26"))
    assert status(response) == 400
    with Store(db) as store:
        assert store.subscriber(reader.id).status == "active"  # type: ignore[union-attr]


def test_the_server_still_answers_after_the_abuse(endpoint: tuple[int, Path, Subscriber]) -> None:
    port, db, reader = endpoint
    token = make_token(KEY, reader)
    for case, make in ABUSE:
        raw(port, make(token), close=case == "length-longer-than-body")
    assert status(raw(port, f"GET /?token={token} HTTP/1.0\r\n\r\n".encode())) == 200
    response = raw(port, post(f"/?token={token}", b"List-Unsubscribe=One-Click", "26"))
    assert status(response) == 200
    assert b"reader@example.com will get no more issues" in response
    with Store(db) as store:
        assert store.subscriber(reader.id).status == "unsubscribed"  # type: ignore[union-attr]


def test_the_token_may_come_in_the_body(endpoint: tuple[int, Path, Subscriber]) -> None:
    port, _, reader = endpoint
    body = f"token={make_token(KEY, reader)}".encode()
    assert status(raw(port, post("/", body, str(len(body))))) == 200


def test_other_methods_are_405(endpoint: tuple[int, Path, Subscriber]) -> None:
    port, _, _ = endpoint
    assert status(raw(port, b"DELETE /?token=1.x HTTP/1.0\r\n\r\n")) == 405
