"""The httpx transport feeds are fetched through: it connects only to checked addresses.

Owns: `GuardedBackend`, an httpcore network backend whose `connect_tcp` resolves
the host, checks every address (`digest.fetch.addresses`) and then connects to
one of those very addresses, never to the name (so a DNS answer that changes
between check and connect, "DNS rebinding", changes nothing);
`GuardedTransport`, the httpx transport that runs httpcore connections on that
backend (over asyncio's own streams: `digest.fetch.netstream`), kept alive per
origin by `_Pool` (a request to a host reuses an idle connection to it, or
opens one; no scan of the other connections); and
`FeedClient`, the few lines of `httpx.AsyncClient` gather needs (a GET with
headers, streamed). TLS still verifies and sends SNI for the host name
(httpcore passes the URL's host to `start_tls`), and the Host header is the
URL's. Doesn't own: the policy itself (`digest.fetch.addresses`), redirects,
timeouts per feed or error wording (`digest.fetch.fetcher`).

No proxy is ever used (a proxy would connect where we cannot check) and no
environment variable changes that: the pool is built here, not by httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import ssl
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx

from digest.fetch.addresses import AddressPolicy, parse_address, resolve_checked
from digest.fetch.netstream import connect_tcp

# Whether the hop being made may reach an allowlisted non-public address. A hop
# reached by a redirect from a public address may not: a feed on the internet
# must not be able to send digest into the operator's own network.
PRIVATE_HOP_OK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "digest_private_hop_ok", default=True
)

_NO_ALLOWLIST = AddressPolicy()

# Idle keep-alive connections kept (`_Pool`). Most feeds are one request to a
# host of their own, which keep-alive does not help; several feeds on one host
# (and redirects within a host) reuse a connection.
KEEPALIVE = 16


def _accept_encoding() -> str:
    """What httpx's own client asks for: the encodings httpx decodes (gzip,
    deflate; br and zstd when the packages it decodes them with are installed)."""
    names = ["gzip", "deflate"]
    for name, modules in (("br", ("brotli", "brotlicffi")), ("zstd", ("zstandard",))):
        if any(importlib.util.find_spec(m) is not None for m in modules):
            names.append(name)
    return ", ".join(names)


ACCEPT_ENCODING = _accept_encoding()
KEEPALIVE_SECONDS = 5.0  # an idle connection older than this is not reused (httpcore's default)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, connect to a checked one."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        # Hosts seen resolving to an allowlisted non-public address: the fetcher
        # asks before reusing a pooled connection to one of them (see PRIVATE_HOP_OK).
        self.private_hosts: set[str] = set()
        self.connects: list[tuple[str, str, int]] = []  # (host, address, port): what was connected

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        policy = self.policy if PRIVATE_HOP_OK.get() else _NO_ALLOWLIST
        # Raises AddressRefused before any socket exists.
        addresses = await resolve_checked(host, port, policy)
        if any(self.policy.is_private(parse_address(a)) for a in addresses):
            self.private_hosts.add(host)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
                continue
            self.connects.append((host, address, port))
            return stream
        assert last is not None  # `resolve_checked` never returns an empty list
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# httpcore's exceptions, as httpx's (what `httpx.AsyncHTTPTransport` does too).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _mapped(exc: Exception) -> Exception:
    for theirs, ours in _EXCEPTIONS:
        if isinstance(exc, theirs):
            return ours(str(exc))
    return exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except httpcore.TimeoutException as e:
            raise _mapped(e) from e
        except httpcore.NetworkError as e:
            raise _mapped(e) from e
        except httpcore.ProtocolError as e:
            raise _mapped(e) from e

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


class _Released(httpx.AsyncByteStream):
    """A response body whose connection goes back to the pool (or is closed) once
    the body is closed, read to the end or not."""

    def __init__(
        self, body: _Body, pool: _Pool, key: _Key, connection: httpcore.AsyncHTTPConnection
    ) -> None:
        self._body = body
        self._pool = pool
        self._key = key
        self._connection: httpcore.AsyncHTTPConnection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._body:
            yield part

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self._body.aclose()
        finally:
            await self._pool.release(self._key, connection)


_Key = tuple[bytes, bytes, int]  # scheme, host, port
# What a reused connection raises when the server had already closed it.
_STALE = (
    httpcore.ConnectionNotAvailable,
    httpcore.RemoteProtocolError,
    httpcore.ReadError,
    httpcore.WriteError,
)


class _Pool:
    """Keep-alive connections, kept per origin: a request takes an idle connection
    to its own origin (or opens one), and its response's close gives it back.

    Why not httpcore's `AsyncConnectionPool`: it reassigns every queued request
    to every connection on each request and each response close (quadratic in the
    connections it holds; known upstream), which made it most of gather's CPU at
    1,000 feeds. Here a request costs one dict lookup. The number of requests in
    flight is bounded by the caller (`[gather] concurrency`, a semaphore in
    `digest.fetch.gather`); at most `keepalive` idle connections are kept.
    """

    def __init__(self, backend: GuardedBackend, keepalive: int) -> None:
        self._backend = backend
        self._ssl_context: ssl.SSLContext | None = None  # made for the first https origin
        self._keepalive = keepalive
        self._idle: dict[_Key, list[httpcore.AsyncHTTPConnection]] = {}
        self._idle_count = 0
        self._live: set[httpcore.AsyncHTTPConnection] = set()

    async def _take(self, key: _Key) -> httpcore.AsyncHTTPConnection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            # `has_expired` also notices a server that has closed its end.
            if connection.is_idle() and not connection.has_expired():
                return connection
            await self._close(connection)
        return None

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # httpx's own context: certifi's CAs (as httpx would use), SSL_CERT_FILE
            # honoured. Made when first needed: loading the CAs takes ~35 ms of a
            # run's start, and a run of plain-http feeds never needs them.
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def _open(self, url: httpcore.URL) -> httpcore.AsyncHTTPConnection:
        connection = httpcore.AsyncHTTPConnection(
            origin=url.origin,
            # An http origin never uses a context (httpcore starts TLS for https only).
            ssl_context=self._tls() if url.scheme == b"https" else None,
            keepalive_expiry=KEEPALIVE_SECONDS,
            http1=True,
            http2=False,
            network_backend=self._backend,
        )
        self._live.add(connection)
        return connection

    async def handle_async_request(
        self, request: httpcore.Request
    ) -> tuple[httpcore.Response, _Key, httpcore.AsyncHTTPConnection]:
        url = request.url
        scheme = url.scheme.decode()
        if scheme == "":
            raise httpcore.UnsupportedProtocol(
                "Request URL is missing an 'http://' or 'https://' protocol."
            )
        if scheme not in ("http", "https"):
            raise httpcore.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'."
            )
        key = (url.scheme, url.host, url.origin.port)
        while True:
            connection = await self._take(key)
            reused = connection is not None
            if connection is None:
                connection = self._open(url)
            try:
                return await connection.handle_async_request(request), key, connection
            except _STALE:
                await self._close(connection)
                if not reused:
                    raise
                # A kept connection the server closed before our request reached it
                # (its keep-alive ran out): GET is idempotent, ask on a new one.
            except BaseException:
                await self._close(connection)
                raise

    async def release(self, key: _Key, connection: httpcore.AsyncHTTPConnection) -> None:
        if connection.is_idle() and self._idle_count < self._keepalive:
            self._idle.setdefault(key, []).append(connection)
            self._idle_count += 1
        else:
            await self._close(connection)

    async def _close(self, connection: httpcore.AsyncHTTPConnection) -> None:
        self._live.discard(connection)
        await connection.aclose()

    async def aclose(self) -> None:
        live, self._live = self._live, set()
        self._idle.clear()
        self._idle_count = 0
        for connection in live:
            await connection.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over `GuardedBackend` (HTTP/1.1, no proxy)."""

    def __init__(self, policy: AddressPolicy, *, max_connections: int) -> None:
        self.backend = GuardedBackend(policy)
        # `max_connections`: the caller's bound on requests in flight (kept for
        # callers; the pool itself needs no count, see `_Pool`).
        self.max_connections = max_connections
        self._pool = _Pool(self.backend, KEEPALIVE)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response, key, connection = await self._pool.handle_async_request(core)
        except (
            httpcore.TimeoutException,
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
        ) as e:
            raise _mapped(e) from e
        assert isinstance(response.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Released(_Body(response.stream), self._pool, key, connection),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class FeedClient:
    """GET with a few headers over `GuardedTransport`, the response streamed.

    What `httpx.AsyncClient` adds on top of the transport and gather needs none
    of: auth, a base URL, redirect following (the fetcher follows by hand) and
    event hooks. Skipping them saves a fifth of the CPU of a request. Cookies
    are kept for the run as that client keeps them (a site that sets one and
    redirects to itself still gets it back), but looked at only when a response
    sets one. The request and the response are httpx's own (URL checks, content
    decoding: gzip, deflate).
    """

    def __init__(self, transport: GuardedTransport, *, user_agent: str, timeout: float) -> None:
        self.transport = transport
        self._headers = {
            "Accept": "*/*",
            "Accept-Encoding": ACCEPT_ENCODING,
            "Connection": "keep-alive",
            "User-Agent": user_agent,
        }
        self._timeout = httpx.Timeout(timeout).as_dict()
        self._cookies = httpx.Cookies()

    @contextlib.asynccontextmanager
    async def stream(self, url: str, headers: dict[str, str]) -> AsyncIterator[httpx.Response]:
        """GET `url`; raises httpx's errors (`httpx.InvalidURL` before any socket)."""
        request = httpx.Request(
            "GET", url, headers={**self._headers, **headers}, extensions={"timeout": self._timeout}
        )
        if self._cookies.jar:
            self._cookies.set_cookie_header(request)
        response = await self.transport.handle_async_request(request)
        response.request = request
        if "set-cookie" in response.headers:
            self._cookies.extract_cookies(response)
        try:
            yield response
        finally:
            await response.aclose()

    async def __aenter__(self) -> FeedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.aclose()
