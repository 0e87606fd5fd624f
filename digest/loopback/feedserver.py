"""A real loopback HTTP server that serves feeds, for tests, the demo and benchmarks.

Owns: answering HTTP on 127.0.0.1 from a mutable table of routes (path →
`Route`), with the behaviour of a well-run feed host: strong ETags and
Last-Modified, 304 answers to conditional requests, redirects, arbitrary status
codes and content types, and artificial latency (global and per route). It
records every request it answers so tests can assert on traffic.
Doesn't own: anything about parsing feeds or deciding what is valid; it serves
bytes as told, including broken ones.

It lives in the package (not under tests/) so that `digest demo` and
`benchmarks/gather.py` can use it too; `python -m digest.loopback.feedserver FOLDER` serves a
folder of feed files by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import mimetypes
import threading
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

# Feed files served from a folder carry no charset on purpose: with an
# application/*xml type the XML declaration decides the encoding (RFC 7303), so
# Shift_JIS or Big5 files are read as declared. (text/xml without charset would
# mean US-ASCII to a strict parser.)
_TYPES_BY_SUFFIX = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def _now_http() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Route:
    """What the server answers for one path.

    `headers` are sent as given (e.g. `{"Location": url}` with status 301/302).
    For status 200, the server adds a strong ETag (sha1 of the body) and
    `Last-Modified` (when the route was created, unless `last_modified` is set) and
    answers conditional requests with 304; `validators=False` turns that off, like
    a host that sends neither.
    """

    body: bytes
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds, added to the server's global delay
    last_modified: datetime = field(default_factory=_now_http)
    validators: bool = True

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest() + '"'


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a delay never blocks shutdown
    request_queue_size = 256  # listen backlog: 100+ clients connect at once
    allow_reuse_address = True
    owner: FeedServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out and hang up mid-response are part of the tests;
        # socketserver would print a traceback to stderr for each.
        self.owner._note_error()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FeedServer/1"
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at close

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests assert on `FeedServer.requests` instead

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        owner = self.server.owner
        owner._enter(self.path, {k.lower(): v for k, v in self.headers.items()})
        try:
            self._respond(owner, send_body)
        finally:
            owner._leave()

    def _respond(self, owner: FeedServer, send_body: bool) -> None:
        path = self.path
        route = owner.routes.get(path) or owner.routes.get(urlsplit(path).path)
        delay = owner.delay + (route.delay if route else 0.0)
        if delay > 0 and owner._closing.wait(delay):
            return  # shutting down: drop the connection
        # Logged before the answer is written: a client that has its answer may
        # look at the log at once, and must find the request there.
        if route is None:
            owner._log("GET" if send_body else "HEAD", path, 404)
            self._send(404, "text/plain; charset=utf-8", {}, b"not found\n", send_body)
            return
        headers = dict(route.headers)
        status = route.status
        body = route.body
        if status == 200 and route.validators:
            etag = route.etag
            last_modified = format_datetime(route.last_modified, usegmt=True)
            headers.setdefault("ETag", etag)
            headers.setdefault("Last-Modified", last_modified)
            if self._not_modified(etag, route.last_modified):
                status, body = 304, b""
        owner._log("GET" if send_body else "HEAD", path, status)
        self._send(status, route.content_type, headers, body, send_body and status != 304)

    def _not_modified(self, etag: str, last_modified: datetime) -> bool:
        # RFC 9110 §13.2.2: If-None-Match, when present, decides alone.
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is not None:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return last_modified <= since
        return False

    def _send(
        self, status: int, content_type: str, headers: dict[str, str], body: bytes, with_body: bool
    ) -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body and body:
            self.wfile.write(body)


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 (free port) serving `routes`.

    Use as a context manager; `url(path)` gives the absolute URL of a path;
    `requests` lists `(method, path, status)` of every answered request.
    """

    def __init__(
        self, routes: MutableMapping[str, Route] | None = None, *, delay: float = 0.0
    ) -> None:
        self.routes: MutableMapping[str, Route] = routes if routes is not None else {}
        self.delay = delay  # seconds before every response, 304s and 404s included
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) answered
        self.request_headers: list[tuple[str, dict[str, str]]] = []  # (path, lower-case headers)
        self.in_flight = 0  # requests being handled right now
        self.max_in_flight = 0  # most requests handled at once
        self.errors = 0  # handler errors, mostly clients that hung up
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="feedserver",
            daemon=True,
        )
        self._started = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> FeedServer:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping in a delay
        if self._started:
            self._server.shutdown()
            self._thread.join()
            self._started = False
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- routes --------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    def __setitem__(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def __getitem__(self, path: str) -> Route:
        return self.routes[path]

    def serve_directory(self, folder: Path, prefix: str = "/") -> list[str]:
        """Add a route for every file under `folder`; returns their URLs, sorted."""
        prefix = "/" + prefix.strip("/")
        urls = []
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = file.relative_to(folder).as_posix()
            path = f"{prefix.rstrip('/')}/{rel}"
            content_type = _TYPES_BY_SUFFIX.get(file.suffix.lower()) or (
                mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            )
            self.routes[path] = Route(file.read_bytes(), content_type=content_type)
            urls.append(self.url(path))
        return urls

    # -- what happened ---------------------------------------------------------

    def _enter(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.request_headers.append((path, headers))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def _note_error(self) -> None:
        with self._lock:
            self.errors += 1

    def hits(self, path: str) -> list[int]:
        """Statuses answered for `path`, in order."""
        with self._lock:
            return [status for _, p, status in self.requests if p == path]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.request_headers.clear()
            self.max_in_flight = self.in_flight


def main(argv: list[str] | None = None) -> None:
    """`python -m digest.loopback.feedserver FOLDER`: serve a folder of feeds until Ctrl-C."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    with FeedServer(delay=args.delay) as server:
        for url in server.serve_directory(args.folder):
            print(url)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
