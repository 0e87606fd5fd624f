"""The endpoint that honours signed one-click unsubscribe links.

Owns: a small WSGI application for `[unsubscribe] url` (RFC 8058: a POST with
`List-Unsubscribe=One-Click` unsubscribes at once; a GET shows a confirm
button, because link scanners follow GETs). Doesn't own: making or checking
the tokens (`digest.tokens`), or composing messages.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from digest.state.store import Store
from digest.tokens import unsubscribe_url, verify_token

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
        query = parse_qs(environ.get("QUERY_STRING", ""))
        token = (query.get("token") or [""])[0]
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(min(length, 4096)).decode("latin-1"))
            token = token or (form.get("token") or [""])[0]
        with Store(store_path) as store:
            subscriber = verify_token(key, token, store.subscriber)
            if subscriber is None:
                return respond(
                    start,
                    "400 Bad Request",
                    "Link not valid",
                    "<p>This unsubscribe link is not valid.</p>",
                )
            if method == "POST":
                store.set_subscriber_status(subscriber.id, "unsubscribed", datetime.now(UTC))
                return respond(
                    start,
                    "200 OK",
                    "Unsubscribed",
                    f"<p>{html.escape(subscriber.email)} will get no more issues.</p>",
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

    return app
