"""The endpoint that honours signed one-click unsubscribe links.

Owns: a small WSGI application for `[unsubscribe] url` (RFC 8058: a POST with
`List-Unsubscribe=One-Click` unsubscribes at once; a GET shows a confirm
button, because link scanners follow GETs). Doesn't own: making or checking
the tokens (`digest.tokens`), or composing messages.

Everything a client sends is bounded and checked before it is used: the body
is read only when `Content-Length` is plain ASCII digits no larger than
`MAX_BODY` (never up to EOF: a `-1` or a missing length would block the server
on a client that never closes), the token must be `<ASCII digits>.<signature>`
with an id SQLite can hold, and anything else is a 400, never a 500. A busy or
unusable database is a 503 (try later).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from digest.errors import DigestError
from digest.state.store import Store
from digest.tokens import MAX_ID, unsubscribe_url, verify_token

log = logging.getLogger(__name__)

MAX_BODY = 4096  # a one-click form is ~30 bytes; anything longer is refused unread
_LENGTH = re.compile(r"[0-9]{1,9}")  # ASCII digits only: int() also takes " 1", "+1", "١"
# <id>.<signature>: ASCII digits (str.isdigit also accepts '²'), urlsafe base64.
_TOKEN = re.compile(r"([0-9]{1,19})\.([A-Za-z0-9_-]{1,64})")
_MAX_FIELDS = 8


class _BadRequest(Exception):
    """The request is malformed; the message says how (logged, not shown)."""


_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto;padding:0 1em">
<h1 style="font-size:1.3em">{title}</h1>{body}</body></html>"""


def make_wsgi_app(store_path: Path, key: bytes, title: str = "Unsubscribe") -> Any:
    """A WSGI app for the unsubscribe URL. Mount it at `[unsubscribe] url`."""

    def respond(start: Any, status: str, heading: str, body: str) -> Iterable[bytes]:
        page = _PAGE.format(title=html.escape(heading), body=body).encode("utf-8")
        start(
            status,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(page))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [page]

    def app(environ: dict[str, Any], start: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD", "POST"):
            return respond(start, "405 Method Not Allowed", "Not allowed", "")
        try:
            token = _token(environ, method)
        except _BadRequest as e:
            log.info("unsubscribe: 400: %s", e)
            return invalid(start)
        try:
            with Store(store_path) as store:
                subscriber = verify_token(key, token, store.subscriber)
                if subscriber is None:
                    return invalid(start)
                if method == "POST":
                    store.unsubscribe(subscriber.id, datetime.now(UTC))
                    return respond(
                        start,
                        "200 OK",
                        "Unsubscribed",
                        f"<p>{html.escape(subscriber.email)} will get no more issues.</p>",
                    )
        except DigestError as e:
            log.warning("unsubscribe: 503: %s", e.message)
            return respond(
                start,
                "503 Service Unavailable",
                "Try again later",
                "<p>Please try again in a few minutes.</p>",
            )
        action = html.escape(unsubscribe_url("", token))
        return respond(
            start,
            "200 OK",
            title,
            f"<p>Stop sending the digest to {html.escape(subscriber.email)}?</p>"
            f'<form method="post" action="{action}">'
            f'<button type="submit">Unsubscribe</button></form>',
        )

    def invalid(start: Any) -> Iterable[bytes]:
        return respond(
            start, "400 Bad Request", "Link not valid", "<p>This unsubscribe link is not valid.</p>"
        )

    return app


def _form(text: str) -> dict[str, list[str]]:
    try:
        return parse_qs(text, max_num_fields=_MAX_FIELDS, strict_parsing=False)
    except ValueError as e:  # too many fields
        raise _BadRequest(str(e)) from e


def _body(environ: dict[str, Any]) -> str:
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return ""  # no body announced: read nothing (never up to EOF)
    if not _LENGTH.fullmatch(raw):
        raise _BadRequest(f"Content-Length {raw[:40]!r} is not a number of bytes")
    length = int(raw)
    if length > MAX_BODY:
        raise _BadRequest(f"a body of {length} bytes (at most {MAX_BODY})")
    data = environ["wsgi.input"].read(length) if length else b""
    if len(data) != length:
        raise _BadRequest(f"the body ended after {len(data)} of {length} bytes")
    try:
        return str(data.decode("ascii"))
    except UnicodeDecodeError as e:
        raise _BadRequest("the body is not ASCII") from e


def _token(environ: dict[str, Any], method: str) -> str:
    """The token of the query (or, for a POST, of the form body), checked for shape."""
    query = _form(str(environ.get("QUERY_STRING", "")))
    tokens = query.get("token", [])
    if method == "POST":  # the body is checked even when the query has the token
        body = _form(_body(environ))
        tokens = tokens or body.get("token", [])
    if len(tokens) != 1:
        raise _BadRequest(f"{len(tokens)} tokens")
    match = _TOKEN.fullmatch(tokens[0])
    if match is None or int(match.group(1)) > MAX_ID:
        raise _BadRequest(f"token {tokens[0][:80]!r} is malformed")
    return tokens[0]
