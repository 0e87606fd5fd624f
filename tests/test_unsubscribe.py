"""The one-click unsubscribe endpoint of `digest serve`, attacked over a real socket.

The server `digest serve` runs (waitress, from `digest.web.server.make_server`) on
127.0.0.1 in a thread, raw bytes written to it: every malformed request gets a
4xx at once (never a 500, never a server that waits for EOF or reads a body it
refused), nothing is unsubscribed by a bad request, and a good token still
unsubscribes. Waitress itself refuses some requests before the app sees them (a
Content-Length that is not plain digits: 400; one over `MAX_BODY`: 413); that is
as good an answer, so these cases ask for a prompt 4xx, not for a 400 exactly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servethread import ServerThread

from digest.config import Settings
from digest.credentials import load_secrets
from digest.models import Subscriber
from digest.state.store import Store
from digest.tokens import make_token
from digest.web.app import MAX_BODY
from digest.web.server import make_server

PROMPT = 5.0  # seconds: an answer later than this is a server waiting for the client
ONE_CLICK = b"List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class Endpoint:
    port: int
    db: Path
    key: bytes
    reader: Subscriber

    def status_of(self) -> str:
        with Store(self.db) as store:
            subscriber = store.subscriber(self.reader.id)
        assert subscriber is not None
        return subscriber.status


@pytest.fixture
def endpoint(write_config: Callable[..., tuple[Path, Settings]], secret: str) -> Iterator[Endpoint]:
    _, settings = write_config('[digest]\nlanguage = "en"\n')
    with Store(settings.storage_path) as store:
        reader, _ = store.add_subscriber("reader@example.com", "", datetime.now(UTC))
    server = make_server(settings, load_secrets(None), host="127.0.0.1", port=0)
    running = ServerThread(server).start()
    try:
        yield Endpoint(running.port, settings.storage_path, secret.encode(), reader)
    finally:
        running.stop()


def raw(port: int, request: bytes, *, close: bool = False) -> bytes:
    """Send `request` and read one answer: its head, then as many body bytes as its
    Content-Length says (or up to EOF when it gives none). Without `close` the
    client keeps its side open (a slow or hostile client): the server must answer
    anyway, within `PROMPT` seconds, not wait for EOF. An empty result means the
    server closed the connection without an answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=PROMPT) as sock:
        sock.sendall(request)
        if close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return data
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = _content_length(head)
            while length is None or len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
        except TimeoutError:
            raise AssertionError(
                f"no complete answer within {PROMPT} s (so far: {data[:200]!r})"
            ) from None
    assert time.monotonic() - started < PROMPT
    return head + b"\r\n\r\n" + body


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def post(path: str, body: bytes, length: str | None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return head.encode() + b"\r\n" + body


def chunked(path: str, size: int) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    return head.encode() + f"{size:x}\r\n".encode() + b"x" * size + b"\r\n0\r\n\r\n"


def get(query: str) -> bytes:
    return f"GET /unsubscribe?{query} HTTP/1.0\r\n\r\n".encode()


def other_purpose(key: bytes, sub: Subscriber) -> str:
    message = f"digest-confirm\n{sub.id}\n{sub.email}".encode()
    sig = hmac.new(key, message, hashlib.sha256).digest()[:16]
    return f"{sub.id}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def sig(token: str) -> str:
    return token.partition(".")[2]


U = "/unsubscribe"
# Each case carries the good token where a token goes: only the malformation may
# be what refuses it.
ABUSE: list[tuple[str, Callable[[str], bytes]]] = [
    ("length-abc", lambda t: post(f"{U}?token={t}", ONE_CLICK, "abc")),
    ("length-minus-1", lambda t: post(f"{U}?token={t}", b"x", "-1")),
    ("length-huge", lambda t: post(f"{U}?token={t}", b"x", "99999999999999999999")),
    ("length-over-max", lambda t: post(f"{U}?token={t}", b"x" * (MAX_BODY + 1), str(MAX_BODY + 1))),
    ("length-plus", lambda t: post(f"{U}?token={t}", b"x", "+1")),
    ("length-arabic-digit", lambda t: post(f"{U}?token={t}", b"x", "\u0661".encode().decode("latin-1"))),  # noqa: E501
    ("chunked-over-max", lambda t: chunked(f"{U}?token={t}", MAX_BODY + 1)),
    ("length-longer-than-body", lambda t: post(f"{U}?token={t}", b"abc", "100")),
    ("unicode-digit-id", lambda t: get(f"token=%C2%B2.{sig(t)}")),
    ("id-too-large", lambda t: get(f"token={2**63}.{sig(t)}")),
    ("id-20-digits", lambda t: get(f"token={'9' * 20}.abc")),
    ("id-zero", lambda t: get(f"token=0.{sig(t)}")),
    ("empty-token", lambda t: get("token=")),
    ("no-token", lambda t: f"GET {U} HTTP/1.0\r\n\r\n".encode()),
    ("two-tokens", lambda t: get(f"token={t}&token={t}")),
    ("two-tokens-post", lambda t: post(f"{U}?token={t}", f"token={t}".encode(), str(len(t) + 6))),
    ("no-signature", lambda t: get(f"token={t.partition('.')[0]}.")),
    ("bad-percent", lambda t: get(f"token=%ZZ{t}")),
    ("forged", lambda t: get(f"token={t[:-2]}AA")),
    ("many-fields", lambda t: get("&".join(f"a{i}=1" for i in range(50)) + f"&token={t}")),
    ("body-not-ascii", lambda t: post(U, b"token=\xff\xfe", "8")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make"), ABUSE, ids=[a[0] for a in ABUSE])
def test_malformed_requests_get_a_prompt_4xx_and_change_nothing(
    endpoint: Endpoint, case: str, make: Callable[[str], bytes]
) -> None:
    request = make(make_token(endpoint.key, endpoint.reader))
    # The client keeps its side open: no EOF to wait for. Only a body shorter than
    # its announced length needs the client to close (a server cannot know the
    # rest is not coming; waitress's channel_timeout covers a silent client). Then
    # waitress closes the connection without an answer, as the request never
    # ended: no answer is acceptable there, a 500 or a wait is not.
    short = case == "length-longer-than-body"
    response = raw(endpoint.port, request, close=short)
    if not (short and response == b""):
        assert 400 <= status(response) < 500, response[:300]
    assert endpoint.status_of() == "active"


def test_a_token_signed_for_another_purpose_is_refused(endpoint: Endpoint) -> None:
    token = other_purpose(endpoint.key, endpoint.reader)
    response = raw(endpoint.port, post(f"{U}?token={token}", ONE_CLICK, str(len(ONE_CLICK))))
    assert status(response) == 400
    preferences = make_token(endpoint.key, endpoint.reader, "preferences")
    response = raw(endpoint.port, post(f"{U}?token={preferences}", ONE_CLICK, "26"))
    assert status(response) == 400
    assert endpoint.status_of() == "active"


def test_the_server_still_answers_after_the_abuse(endpoint: Endpoint) -> None:
    token = make_token(endpoint.key, endpoint.reader)
    for case, make in ABUSE:
        raw(endpoint.port, make(token), close=case == "length-longer-than-body")
    assert status(raw(endpoint.port, get(f"token={token}"))) == 200
    assert endpoint.status_of() == "active"  # a GET only asks
    response = raw(endpoint.port, post(f"{U}?token={token}", ONE_CLICK, "26"))
    assert status(response) == 200, response[:300]
    assert b"reader@example.com" in response and b"Unsubscribed" in response
    assert endpoint.status_of() == "unsubscribed"


def test_the_token_may_come_in_the_body(endpoint: Endpoint) -> None:
    body = f"token={make_token(endpoint.key, endpoint.reader)}".encode()
    assert status(raw(endpoint.port, post(U, body, str(len(body))))) == 200
    assert endpoint.status_of() == "unsubscribed"


def test_other_methods_are_405(endpoint: Endpoint) -> None:
    token = make_token(endpoint.key, endpoint.reader)
    response = raw(endpoint.port, f"DELETE {U}?token={token} HTTP/1.0\r\n\r\n".encode())
    assert status(response) == 405
    assert endpoint.status_of() == "active"
