"""One feed's HTTP: the hops from its URL to a body, and what each failure is called.

Owns: following redirects by hand (at most `max_redirects`, http(s) only, never
https → http, never from a public address into a non-public one), the time cap
per request (`[gather] timeout`) and per feed over all hops (`total_timeout`),
the size cap, conditional GET headers, the HTTP manners (410 Gone, 429/503 with
Retry-After, 301/308 as "moved"), and the wording of failures, which is what the
store keeps and reports show:

- ``refused: …``   digest would not connect or follow (not a public address,
  https → http, a non-http(s) or invalid URL). Decided before any socket exists,
  so it says nothing about any port.
- ``failed: …``    an HTTP status, a timeout, a connection that failed or broke,
  too many redirects, too large.
- ``not a feed: …`` a 200 whose body is no feed (`digest.fetch.gather` words it).

Ports and non-public targets: a non-public address is only ever reached when the
operator allowed its network, and then only from the configured URL or by
redirects that never left non-public addresses (a public feed cannot redirect
into the allowlist). A failure at a non-public address reached through a
redirect is worded the same whatever happened ("failed: no feed at the
redirect target …"), with the detail in the log only: no stored or reported
text tells a closed port from an open one there. The configured URL's own
failures keep their detail (the operator chose that host and port).

Doesn't own: the address policy (`digest.fetch.addresses`), connecting
(`digest.fetch.transport`), parsing, or storing (`digest.fetch.gather`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from digest.config import GatherSettings
from digest.errors import FeedError
from digest.fetch.addresses import AddressRefused, ResolveError
from digest.fetch.fetched import Fetched
from digest.fetch.transport import PRIVATE_HOP_OK, FeedClient, GuardedBackend
from digest.models import FeedState

log = logging.getLogger(__name__)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
RETRY_STATUSES = frozenset({429, 503})
# A server may ask for any wait; a weekly digest waits at most a day before
# asking again (a Retry-After of a year would silence a feed for good).
MAX_RETRY_AFTER = timedelta(hours=24)


class Refused(FeedError):
    """digest would not connect or follow: `reason` starts with "refused: "."""


class Gone(FeedError):
    """The feed answered 410 Gone."""


class Wait(FeedError):
    """The feed answered 429/503 with a Retry-After in the future."""

    def __init__(self, url: str, reason: str, retry_at: datetime) -> None:
        super().__init__(url, reason)
        self.retry_at = retry_at


class RedirectRefused(Exception):
    """A Location we will not follow; raised by `vet_redirect`, message says why."""


async def vet_redirect(response: httpx.Response) -> None:
    """Refuse a redirect to anything but http(s), before the fetcher follows it.

    Runs for every response, before anything else looks at it: a `javascript:...`
    Location is refused in words, not with an obscure InvalidURL.
    """
    location = response.headers.get("location")
    if location is None or response.status_code not in REDIRECTS:
        return
    target = urljoin(str(response.request.url), location.strip())
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise RedirectRefused(f"redirect to a non-http(s) URL: {target[:200]}")
    try:
        httpx.URL(target)
    except httpx.InvalidURL:
        raise RedirectRefused(f"redirect to an invalid URL: {target[:200]!r}") from None


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """When a Retry-After header (seconds or an HTTP date) lets us ask again; None
    when absent, unreadable or not in the future. At most `MAX_RETRY_AFTER` ahead."""
    if not value or not value.strip():
        return None
    text = value.strip()
    when: datetime
    if text.isdigit():
        seconds = min(int(text[:12]), int(MAX_RETRY_AFTER.total_seconds()))
        when = now + timedelta(seconds=seconds)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # RFC 9110 dates are GMT
    if when <= now:
        return None
    return min(when, now + MAX_RETRY_AFTER)


def conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def host_of(url: str) -> str:
    """The host as httpcore hands it to the backend (IDNA, no brackets)."""
    try:
        return httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        return ""


@dataclass(frozen=True)
class _Hop:
    """One request's outcome: either a redirect target or a final answer."""

    location: str | None = None  # absolute URL to follow next
    permanent: bool = False
    status: int = 0  # 200 or 304 when final
    headers: dict[str, str] | None = None
    body: bytes = b""


async def fetch_feed(
    client: FeedClient,
    backend: GuardedBackend,
    g: GatherSettings,
    feed_url: str,
    state: FeedState,
    now: datetime,
) -> Fetched:
    """GET a feed (its `moved_to` when it has one). Raises FeedError, `Gone`, `Wait`."""
    start = state.moved_to or feed_url
    try:
        async with asyncio.timeout(g.total_timeout):
            return await _hops(client, backend, g, feed_url, start, state, now)
    except TimeoutError:
        raise FeedError(
            feed_url, f"failed: took longer than {g.total_timeout:g} s in all (total_timeout)"
        ) from None


async def _hops(
    client: FeedClient,
    backend: GuardedBackend,
    g: GatherSettings,
    feed_url: str,
    start: str,
    state: FeedState,
    now: datetime,
) -> Fetched:
    url = start
    # Validators belong to the address they came from; a redirect hop sends none.
    headers = conditional_headers(state)
    all_permanent = True
    private_ok = True  # the configured URL (or its recorded move) may be allowlisted
    for hop_number in range(g.max_redirects + 1):
        # The first hop needs its host only when it redirects (parsing a URL is
        # a tenth of a request's CPU).
        host = host_of(url) if hop_number else ""
        if not private_ok and host in backend.private_hosts:
            # A pooled connection would skip the backend's check: ask here too.
            raise Refused(feed_url, "refused: redirect from a public address to a non-public one")
        token = PRIVATE_HOP_OK.set(private_ok)
        try:
            hop = await _one_hop(client, g, feed_url, url, headers, now)
        except FeedError as e:
            raise _hidden(e, backend, host, hop_number) from None
        except AddressRefused as e:
            where = "redirect target " if hop_number else ""
            hint = "" if hop_number else "; allow it in [gather] allow_private"
            raise Refused(feed_url, f"refused: {where}{e.reason}{hint}") from None
        finally:
            PRIVATE_HOP_OK.reset(token)
        if hop.location is None:
            moved_to = url if all_permanent and url != feed_url else None
            private_redirect = hop_number > 0 and host in backend.private_hosts
            return Fetched(hop.status, url, hop.headers or {}, hop.body, moved_to, private_redirect)
        if urlsplit(url).scheme == "https" and urlsplit(hop.location).scheme == "http":
            raise Refused(feed_url, f"refused: redirect from https to http ({hop.location[:200]})")
        if not hop_number:
            host = host_of(url)
        private_ok = private_ok and host in backend.private_hosts
        url = hop.location
        headers = {}
        all_permanent = all_permanent and hop.permanent
    raise FeedError(feed_url, f"failed: too many redirects (more than {g.max_redirects})")


def _hidden(error: FeedError, backend: GuardedBackend, host: str, hop_number: int) -> FeedError:
    """The same words for every failure at a non-public redirect target (see module doc)."""
    if hop_number == 0 or host not in backend.private_hosts or isinstance(error, Refused):
        return error
    log.debug("%s: at the non-public redirect target %s: %s", error.url, host, error.reason)
    return FeedError(error.url, NO_FEED_AT_PRIVATE_REDIRECT)


NO_FEED_AT_PRIVATE_REDIRECT = (
    "failed: no feed at the redirect target (not a public address; details at debug level)"
)


async def _one_hop(
    client: FeedClient,
    g: GatherSettings,
    feed_url: str,
    url: str,
    headers: dict[str, str],
    now: datetime,
) -> _Hop:
    try:
        # httpx's timeout applies per socket operation; this bounds the whole
        # request, so a server dripping bytes cannot hold a slot forever.
        async with asyncio.timeout(g.timeout):
            return await _request(client, g, feed_url, url, headers, now)
    except (TimeoutError, httpx.TimeoutException):
        raise FeedError(feed_url, f"failed: timed out after {g.timeout:g} s") from None
    except ResolveError:
        raise FeedError(feed_url, "failed: cannot resolve the host name") from None
    except httpx.ConnectError as e:
        tls = _tls_trouble(e)
        if tls:  # the operator's to act on (a CA to trust, a site to tell): say which
            raise FeedError(feed_url, f"failed: {tls}") from None
        # No OS detail ("connection refused", "no route"): the same words for all.
        raise FeedError(feed_url, "failed: cannot connect") from None
    except httpx.HTTPError as e:
        log.debug("%s: transfer failed: %s", feed_url, e or type(e).__name__)
        raise FeedError(feed_url, "failed: the connection broke off") from None
    except httpx.InvalidURL as e:
        raise Refused(feed_url, f"refused: invalid URL {url[:200]!r} ({e})") from None
    except RedirectRefused as e:
        raise Refused(feed_url, f"refused: {e}") from None


async def _request(
    client: FeedClient,
    g: GatherSettings,
    feed_url: str,
    url: str,
    headers: dict[str, str],
    now: datetime,
) -> _Hop:
    async with client.stream(url, headers) as r:
        await vet_redirect(r)
        status = r.status_code
        phrase = f" {r.reason_phrase}" if r.reason_phrase else ""
        if status in REDIRECTS and "location" in r.headers:
            # Location may be relative (RFC 9110); resolve it against this hop.
            # Its scheme was checked by `vet_redirect`.
            target = urljoin(url, r.headers["location"].strip())
            return _Hop(location=target, permanent=status in PERMANENT)
        if status == 304:
            if not headers:
                # Nothing was asked conditionally: "not modified" since when?
                raise FeedError(feed_url, "failed: HTTP 304 to a request that was not conditional")
            return _Hop(status=304)
        if status == 410:
            raise Gone(feed_url, f"gone: HTTP 410{phrase}; no longer polled")
        if status in RETRY_STATUSES:
            when = retry_after(r.headers.get("retry-after"), now)
            if when is not None:
                stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                raise Wait(feed_url, f"waiting until {stamp}: HTTP {status}{phrase}", when)
        if status != 200:
            raise FeedError(feed_url, f"failed: HTTP {status}{phrase}")
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > g.max_bytes:
            raise FeedError(feed_url, f"failed: response larger than {g.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a gzip bomb is stopped too.
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size > g.max_bytes:
                raise FeedError(feed_url, f"failed: response larger than {g.max_bytes} bytes")
            chunks.append(chunk)
        response_headers = {k.lower(): v for k, v in r.headers.items()}
        return _Hop(status=200, headers=response_headers, body=b"".join(chunks))


def _tls_trouble(error: BaseException) -> str:
    """Why TLS refused the server, from the exception's causes; "" if it did not."""
    seen: BaseException | None = error
    for _ in range(8):  # httpx → httpcore → ssl: a short chain
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            why = seen.verify_message or "not verified"
            return f"TLS certificate not accepted ({why})"
        if isinstance(seen, ssl.SSLError):
            return "TLS handshake failed"
        seen = seen.__cause__ or seen.__context__
    return ""
