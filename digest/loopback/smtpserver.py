"""The aiosmtpd server classes behind `digest.loopback.mailsink`: where a session can
be made to answer 421 and hang up, at any stage.

Owns: `Faults`, the seeded plan of misbehaviour the sink's handler follows;
`FaultySMTP` (aiosmtpd's server, asking its handler before the greeting and
before the DATA command whether to answer 421 and close: the stages aiosmtpd has
no hook for), `FastDataSMTP` (the same, reading DATA in large chunks), their
controllers, and `close_with_421` (answer, close, and never return: what a relay
does when it gives up on a session). Doesn't own: deciding when to misbehave (the
sink's handler and its `Faults`), or keeping messages.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, syntax

CLOSING = "421 4.3.2 service not available, closing transmission channel"
TRY_AGAIN = "451 4.3.0 try again later"
CLOSE_STAGES = ("", "greeting", "ehlo", "mail", "rcpt", "data", "dot")


@dataclass(frozen=True, slots=True)
class Faults:
    """Seeded misbehaviour. Whether a command is refused depends only on the seed,
    the command, the recipient(s) and how many times that command was seen for them
    before, so it does not depend on how concurrent connections interleave."""

    rcpt_rate: float = 0.0  # fraction of RCPT commands answered TRY_AGAIN
    data_rate: float = 0.0  # fraction of end-of-data answered TRY_AGAIN (message not kept)
    drop_every: int = 0  # after every Nth message's data: keep it, close without a reply
    seed: int = 0
    # Answer 421 and close the connection at this stage ("greeting", "ehlo",
    # "mail", "rcpt", "data" or "dot", the reply to the final "."; the message is
    # not kept), the first `close_count` times it is reached (-1: every time).
    close_at: str = ""
    close_count: int = -1
    # Wait between these many seconds (seeded per message) before answering the
    # final ".". The message is kept before the wait, so a client that dies
    # meanwhile may send it again, except for the fraction `late_commit_rate` of
    # messages, kept only after it: a client that dies meanwhile loses them.
    dot_delay: tuple[float, float] = (0.0, 0.0)
    late_commit_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rcpt_rate", "data_rate", "late_commit_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate!r}")
        if self.drop_every < 0:
            raise ValueError(f"drop_every must be ≥ 0, not {self.drop_every!r}")
        if self.close_at not in CLOSE_STAGES:
            raise ValueError(f"close_at must be one of {CLOSE_STAGES}, not {self.close_at!r}")
        low, high = self.dot_delay
        if not 0.0 <= low <= high:
            raise ValueError(f"dot_delay must be (low, high) with 0 ≤ low ≤ high: {low}, {high}")

    def roll(self, command: str, key: str, nth: int) -> float:
        """A number in [0, 1) fixed by the seed, the command, its key and `nth`."""
        digest = hashlib.blake2b(
            f"{self.seed}\0{command}\0{key}\0{nth}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") / 2**64


class ClosingHandler(Protocol):
    def closing(self, stage: str) -> bool:
        """Whether the session answers 421 and closes at `stage` this time."""
        ...


async def close_with_421(server: Any) -> None:
    """Answer 421, close the connection, and wait to be cancelled: closing makes
    aiosmtpd call connection_lost, which cancels the session's task here, so no
    other reply is ever written into the closing socket."""
    await server.push(CLOSING)
    server.transport.close()
    await asyncio.Event().wait()


class FaultySMTP(SMTP):
    """aiosmtpd's server, with 421 at the greeting or at the DATA command when the
    handler says so (the other stages are the handler's own hooks)."""

    async def _handle_client(self) -> None:
        handler: ClosingHandler = self.event_handler
        if handler.closing("greeting"):
            # A relay that refuses the session outright (overloaded, shutting down).
            await self.push(CLOSING)
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def _maybe_close_at_data(self) -> bool:
        handler: ClosingHandler = self.event_handler
        envelope = self.envelope
        if envelope is None or not envelope.rcpt_tos or not handler.closing("data"):
            return False
        await close_with_421(self)
        return True  # never reached: the session's task is cancelled

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self._maybe_close_at_data():
            return
        await super().smtp_DATA(arg)


class FastDataSMTP(FaultySMTP):
    """aiosmtpd's server, reading DATA in large chunks instead of line by line.

    aiosmtpd reads message data one line at a time (a few microseconds a line: a
    150 KB message of 76-character lines costs it ~8 ms), which makes the sink,
    not the sender, the bottleneck of a throughput benchmark. This reads until
    CRLF "." CRLF and undoes dot-stuffing (RFC 5321 4.5.2) on the whole buffer.
    It skips aiosmtpd's line-length and size checks: a benchmark relay only.
    """

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        if await self._maybe_close_at_data():
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        buf = bytearray(b"\r\n")  # so that a message of no lines ends at index 0
        while True:
            try:
                chunk = await self._reader.read(1 << 18)
            except asyncio.CancelledError:
                self._writer.close()  # the connection went away during DATA
                raise
            if not chunk:
                return  # end of stream mid-message: nothing was received
            searched = max(len(buf) - 4, 0)
            buf += chunk
            end = buf.find(b"\r\n.\r\n", searched)
            if end >= 0:
                break
        rest = bytes(buf[end + 5 :])
        if rest:  # pipelined commands after the data: read them next
            self._reader._buffer[0:0] = rest  # type: ignore[attr-defined]
        content = bytes(buf[: end + 2]).replace(b"\r\n.", b"\r\n")[2:]
        envelope.content = content
        envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)


class FaultyController(Controller):
    def factory(self) -> SMTP:
        return FaultySMTP(self.handler, **self.SMTP_kwargs)


class FastDataController(Controller):
    def factory(self) -> SMTP:
        return FastDataSMTP(self.handler, **self.SMTP_kwargs)
