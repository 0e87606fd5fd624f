"""The asyncio streams feeds are fetched over (`digest.fetch.netstream`): real
sockets on 127.0.0.1, each failure raised as the httpcore exception the pool and
the fetcher expect (what anyio's stream raised before)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpcore
import pytest

from digest.fetch.netstream import connect_tcp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_a_request_and_its_answer_go_through() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readexactly(5)).upper())
        await writer.drain()

    async def main() -> None:
        server, port = await _serve(echo)
        async with server:
            stream = await connect_tcp("127.0.0.1", port, timeout=5)
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            assert stream.get_extra_info("ssl_object") is None
            await stream.write(b"hello", timeout=5)
            assert await stream.read(100, timeout=5) == b"HELLO"
            assert await stream.read(100, timeout=5) == b""  # the end, as anyio's stream said it
            await stream.aclose()

    asyncio.run(main())


def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up

    async def main() -> None:
        server, port = await _serve(silent)
        async with server:
            stream = await connect_tcp("127.0.0.1", port, timeout=5)
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(100, timeout=0.1)
            await stream.aclose()

    asyncio.run(main())


def test_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        with pytest.raises(httpcore.ConnectError) as caught:
            await connect_tcp("127.0.0.1", port, timeout=5)
        assert isinstance(caught.value.__cause__, OSError)

    asyncio.run(main())


def test_a_connection_the_server_closed_reads_as_readable() -> None:
    # What the pool asks (`has_expired`) before reusing an idle connection.
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pass  # `_serve` closes the connection

    async def main() -> None:
        server, port = await _serve(hang_up)
        async with server:
            stream = await connect_tcp("127.0.0.1", port, timeout=5)
            for _ in range(100):
                if stream.get_extra_info("is_readable"):
                    break
                await asyncio.sleep(0.01)
            assert stream.get_extra_info("is_readable")
            await stream.aclose()

    asyncio.run(main())


def test_socket_options_are_set() -> None:
    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def main() -> None:
        server, port = await _serve(idle)
        async with server:
            option = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            stream = await connect_tcp("127.0.0.1", port, timeout=5, socket_options=[option])
            sock = stream.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # as anyio set it
            await stream.aclose()

    asyncio.run(main())
