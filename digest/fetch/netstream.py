"""The socket under one feed connection: asyncio's own streams, as httpcore wants them.

Owns: `connect_tcp`, which opens a TCP connection to one IP address (already
checked by `digest.fetch.transport.GuardedBackend`: no name is resolved here),
and `AsyncioStream`, the `httpcore.AsyncNetworkStream` over it (read, write,
TLS, close), each with its timeout and its failure as httpcore's exception.
Doesn't own: which address may be connected to (`digest.fetch.addresses`,
`digest.fetch.transport`), pooling, HTTP.

Why not httpcore's `AnyIOBackend`: every read, write and connect went through
anyio's cancel scopes and stream wrappers (about a third of gather's CPU when
every feed answers 304). asyncio's streams and `asyncio.timeout` do the same
job in fewer steps. What is kept as anyio did it: TCP_NODELAY (asyncio's
default), the caller's socket options, TLS with the context and the server
name httpcore passes (so certificates are verified and SNI is sent as before),
an SSL error at the handshake raised as `httpcore.ConnectError` with the
`ssl` exception as its cause (`digest.fetch.fetcher` words it from there),
and a close that does not wait for the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
import typing
from collections.abc import Iterable, Iterator

import httpcore


@contextlib.contextmanager
def _mapped(
    timed_out: type[Exception], failed: type[Exception], also: type[Exception] = OSError
) -> Iterator[None]:
    """httpcore's exception for a timeout (`timed_out`) or a socket error (`failed`;
    `also`: one more kind of error that counts as one)."""
    try:
        yield
    except TimeoutError as e:
        raise timed_out(str(e) or type(e).__name__) from e
    except (OSError, also) as e:  # ssl.SSLError is an OSError too
        raise failed(str(e) or type(e).__name__) from e


def _timeout(seconds: float | None) -> typing.AsyncContextManager[object]:
    # No timeout: no timer handle at all (a 304 costs a handful of these).
    return asyncio.timeout(seconds) if seconds is not None else contextlib.nullcontext()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, as asyncio's `StreamReader`/`StreamWriter` pair."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool = False
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._tls = tls

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with _timeout(timeout):
                return await self._reader.read(max_bytes)  # b"" at the end, as anyio's

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            async with _timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        transport = self._writer.transport
        if self._tls:
            # No TLS close_notify exchange to wait for (anyio's TLS stream sent
            # none either): the socket is simply closed.
            transport.abort()
        else:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError, EOFError):
                async with _timeout(timeout):
                    # Verification and SNI as the context and the name say.
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException:
            self._writer.transport.abort()
            raise
        return AsyncioStream(self._reader, self._writer, tls=True)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            # An idle kept-alive connection that reads as ready: the server closed it.
            return self._reader.at_eof() or _readable(self._writer.get_extra_info("socket"))
        return None


def _readable(sock: socket.socket | None) -> bool:
    """True when a socket has something to read (or is gone): on an idle kept-alive
    connection, that is the server's close. poll, not select: any descriptor number."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


async def connect_tcp(
    address: str,
    port: int,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
) -> AsyncioStream:
    """A TCP connection to the IP address `address` (never a name: nothing is resolved)."""
    local = (local_address, 0) if local_address else None
    with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
        async with _timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port, local_addr=local)
        try:
            sock = writer.get_extra_info("socket")
            for option in socket_options or ():
                sock.setsockopt(*option)
        except BaseException:
            writer.transport.abort()
            raise
    return AsyncioStream(reader, writer)
