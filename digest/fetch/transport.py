"""The httpx transport feeds are fetched through: it connects only to checked addresses.

Owns: `GuardedBackend`, an httpcore network backend whose `connect_tcp` resolves
the host, checks every address (`digest.fetch.addresses`) and then connects to
one of those very addresses, never to the name (so a DNS answer that changes
between check and connect, "DNS rebinding", changes nothing); and
`GuardedTransport`, the httpx transport that runs an httpcore connection pool on
that backend. TLS still verifies and sends SNI for the host name (httpcore
passes the URL's host to `start_tls`), and the Host header is the URL's.
Doesn't own: the policy itself (`digest.fetch.addresses`), redirects, timeouts
per feed or error wording (`digest.fetch.fetcher`).

No proxy is ever used (a proxy would connect where we cannot check) and no
environment variable changes that: the pool is built here, not by httpx.
"""

from __future__ import annotations

import contextvars
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx

from digest.fetch.addresses import AddressPolicy, parse_address, resolve_checked

# Whether the hop being made may reach an allowlisted non-public address. A hop
# reached by a redirect from a public address may not: a feed on the internet
# must not be able to send digest into the operator's own network.
PRIVATE_HOP_OK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "digest_private_hop_ok", default=True
)

_NO_ALLOWLIST = AddressPolicy()

# Idle keep-alive connections kept by the pool. On every request it adds or ends,
# httpcore walks all pooled connections once per idle one (quadratic in the idle
# count; known upstream), so the number kept idle is capped. Most feeds are one
# request to a host of their own, which keep-alive does not help. Measured with
# benchmarks/gather.py (1,000 feeds on one host, concurrency 128 and 500): 16
# and 128 (or 1,000) give the same times within noise there; the cap bounds the
# worst case rather than speeding up the common one.
KEEPALIVE = 16


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, connect to a checked one."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()
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
                stream = await self._inner.connect_tcp(
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
        await self._inner.sleep(seconds)


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


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over `GuardedBackend` (HTTP/1.1, no proxy)."""

    def __init__(self, policy: AddressPolicy, *, max_connections: int) -> None:
        self.backend = GuardedBackend(policy)
        self._pool = httpcore.AsyncConnectionPool(
            # httpx's own context: certifi's CAs (as httpx would use), SSL_CERT_FILE honoured.
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=KEEPALIVE,
            http1=True,
            http2=False,
            network_backend=self.backend,
        )

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
            response = await self._pool.handle_async_request(core)
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
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
