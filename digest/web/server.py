"""Running `digest serve`: the app behind waitress, a production WSGI server.

Owns: starting and stopping the server, and what it believes about proxies:
`--base-path` (or [web] base_path) serves every page under a prefix, as a
reverse proxy that forwards `/digest/…` expects, and X-Forwarded-For/-Proto/-Host
are honoured only from [web] trusted_proxies, so a client
cannot pick its own address to dodge the rate limits. Waitress also bounds
what a client may send (`max_request_body_size`, header sizes) and serves many
slow clients with a few threads.

Doesn't own: the routes (`digest.web.app`).
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import waitress
from waitress.server import BaseWSGIServer, MultiSocketServer

from digest.config import Settings
from digest.credentials import Secrets
from digest.errors import ListenError
from digest.web.app import MAX_BODY, create_app

log = logging.getLogger(__name__)

THREADS = 8  # requests at once; each holds one SQLite connection
# The X-Forwarded-* family (what nginx, Caddy and most proxies send); waitress will
# not trust it together with RFC 7239 `Forwarded`.
FORWARDED_HEADERS = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"}


def make_server(
    settings: Settings,
    secrets: Secrets,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    base_path: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound to host:port (port 0: any free port), not yet running."""
    app = (
        create_app(settings, secrets)
        if clock is None
        else create_app(settings, secrets, clock=clock)
    )
    prefix = settings.web.base_path if base_path is None else base_path.rstrip("/")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "threads": THREADS,
        "url_prefix": prefix,
        "max_request_body_size": MAX_BODY,
        "max_request_header_size": 64 * 1024,
        "ident": "digest",
        "clear_untrusted_proxy_headers": True,
    }
    proxies = settings.web.trusted_proxies
    if proxies:
        options["trusted_proxy"] = "*" if "*" in proxies else " ".join(proxies)
        options["trusted_proxy_count"] = 1
        options["trusted_proxy_headers"] = FORWARDED_HEADERS
    try:
        return waitress.create_server(app, **options)
    except OSError as e:
        hints = {
            errno.EADDRINUSE: "another program listens there: choose another port with --port",
            errno.EACCES: "ports under 1024 need privileges: use a higher one (behind a proxy)",
            errno.EADDRNOTAVAIL: "no interface of this machine has that address: check --host",
        }
        raise ListenError(
            f"cannot listen on {host}:{port}: {e.strerror or e}", hint=hints.get(e.errno or 0)
        ) from e


def serve(
    settings: Settings,
    secrets: Secrets,
    *,
    host: str,
    port: int,
    base_path: str | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM. `ready` gets the URL once the socket listens.

    SIGTERM (systemd's stop, `kill`) stops it as Ctrl-C does: waitress finishes
    the requests in hand (a signup's write and its mail) before the process
    ends, rather than being cut off mid-request."""
    server = make_server(settings, secrets, host=host, port=port, base_path=base_path)
    address = server.effective_host, server.effective_port
    shown = f"[{address[0]}]" if ":" in str(address[0]) else address[0]
    prefix = settings.web.base_path if base_path is None else base_path.rstrip("/")
    url = f"http://{shown}:{address[1]}{prefix}/"
    previous = None
    if threading.current_thread() is threading.main_thread():  # signals reach only it
        previous = signal.signal(signal.SIGTERM, _interrupt)
    if ready is not None:
        ready(url)
    try:
        server.run()  # on KeyboardInterrupt, waitress waits for its tasks, then returns
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
