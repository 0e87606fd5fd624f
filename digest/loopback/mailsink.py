"""A real SMTP server on loopback that keeps what it receives, and can misbehave.

Owns: an aiosmtpd server on 127.0.0.1 for the demo, tests and benchmarks, which
stores every message it accepts (in memory, and as .eml files when given a
folder) and can answer chosen recipients with a reply code; seeded fault
injection (451 to a fraction of RCPT and of DATA commands, a dropped connection
after every Nth message's data, 421-and-close at one chosen stage of the session
for the first N times or always, a pause before the reply to the final "."; the
plan is `Faults`, in `digest.loopback.smtpserver`); per-recipient counts that stay cheap at 10,000
subscribers (`keep=False` keeps no message bytes); and running the sink in a
process of its own (`SinkProcess`, `python -m digest.loopback.mailsink`), so a benchmark's
sender and sink do not share a GIL. Doesn't own: any sending logic; digest talks
to it through smtplib like to any relay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import re
import signal
import socket
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.loopback.smtpserver import (
    CLOSE_STAGES,
    TRY_AGAIN,
    FastDataController,
    Faults,
    FaultyController,
    close_with_421,
)
from digest.state.files import write_atomic


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # as received, CRLF line ends

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the sink keeps of every message it took, whether or not it keeps the bytes."""

    recipient: str
    message_id: str  # "" when the message had no Message-ID header
    size: int  # bytes of data
    dropped: bool  # the connection was closed after the data, without a reply


@dataclass(slots=True)
class SinkStats:
    sessions: int = 0  # EHLO/HELO commands: one per SMTP session without STARTTLS
    accepted: int = 0  # messages answered 250
    dropped: int = 0  # messages kept, connection closed without a reply
    rcpt_refused: int = 0  # RCPT answered with a fault (TRY_AGAIN) or a `refuse` reply
    data_refused: int = 0  # end-of-data answered TRY_AGAIN
    closed: int = 0  # sessions answered 421 and closed by `close_at`
    bytes: int = 0  # data bytes of the messages kept


_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)


def _message_id(data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    return match.group(1).decode("ascii", "replace").strip() if match else ""


@dataclass
class _Handler:
    folder: Path | None
    keep: bool = True
    received: list[Received] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # recipient → messages taken
    refuse: dict[str, str] = field(default_factory=dict)  # address → reply, at RCPT
    lock: threading.Lock = field(default_factory=threading.Lock)
    stats: SinkStats = field(default_factory=SinkStats)
    faults: Faults = field(default_factory=Faults)
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)  # (command, key) → times
    data_commands: int = 0  # end-of-data seen, for drop_every
    on_message: Callable[[Received], None] | None = None  # called after each accepted message
    max_sessions: int | None = None  # refuse EHLO with 421 after this many sessions
    closes: int = 0  # times the `close_at` stage was reached

    def closing(self, stage: str) -> bool:
        """Whether this session answers 421 and closes at `stage` now."""
        with self.lock:
            if self.faults.close_at != stage:
                return False
            self.closes += 1
            close = self.faults.close_count < 0 or self.closes <= self.faults.close_count
            if close:
                self.stats.closed += 1
        return close

    @property
    def greetings(self) -> int:
        return self.stats.sessions

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.stats.sessions += 1
            refused = self.max_sessions is not None and self.stats.sessions > self.max_sessions
        if refused:  # as relays that cap connections answer; the client then leaves
            return ["421 4.7.0 too many connections, try again later"]
        if self.closing("ehlo"):
            await close_with_421(server)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        with self.lock:
            self.stats.sessions += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    def _fault(self, command: str, key: str, rate: float) -> bool:
        """Under self.lock: whether this command is answered TRY_AGAIN."""
        nth = self.seen[(command, key)]
        self.seen[(command, key)] = nth + 1
        return rate > 0 and self.faults.roll(command, key, nth) < rate

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.closing("mail"):
            await close_with_421(server)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.closing("rcpt"):
            await close_with_421(server)
        with self.lock:
            reply = self.refuse.get(address.lower())
            if not reply and self._fault("RCPT", address, self.faults.rcpt_rate):
                reply = TRY_AGAIN
            if reply:
                self.stats.rcpt_refused += 1
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        rcpt_tos = tuple(envelope.rcpt_tos)
        if self.closing("dot"):
            await close_with_421(server)  # refused: nothing kept
        with self.lock:
            self.data_commands += 1
            every = self.faults.drop_every
            drop = every > 0 and self.data_commands % every == 0
            if not drop and self._fault("DATA", ",".join(rcpt_tos), self.faults.data_rate):
                self.stats.data_refused += 1
                return TRY_AGAIN
            key = ",".join(rcpt_tos)
            nth = self.seen[("DOT", key)]
            self.seen[("DOT", key)] = nth + 1
            low, high = self.faults.dot_delay
            delay = low + (high - low) * self.faults.roll("DELAY", key, nth)
            late = self.faults.roll("LATE", key, nth) < self.faults.late_commit_rate
        if high > 0 and late:
            await asyncio.sleep(delay)  # cancelled if the client goes: nothing kept
        item = Received(envelope.mail_from, rcpt_tos, bytes(data))
        message_id = _message_id(item.data)
        with self.lock:
            if self.keep:
                self.received.append(item)
            for rcpt in rcpt_tos:
                self.receipts.append(Receipt(rcpt, message_id, len(item.data), drop))
                self.counts[rcpt] += 1
            self.stats.bytes += len(item.data)
            if drop:
                self.stats.dropped += 1
            else:
                self.stats.accepted += 1
            count = self.stats.accepted + self.stats.dropped
        if self.folder is not None:
            write_atomic(self.folder / f"{count:05d}.eml", item.data)
        if self.on_message is not None:
            self.on_message(item)
        if drop:
            # Close without a reply: the client sent the whole message and cannot
            # know whether it arrived. Closing makes aiosmtpd call connection_lost,
            # which cancels this session's task while it waits here, so no reply
            # is ever written (returning would write one into the closing socket).
            server.transport.close()
            await asyncio.Event().wait()
        if high > 0 and not late:
            await asyncio.sleep(delay)  # kept already: a client gone meanwhile may resend
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """`with SmtpSink() as sink:` → an SMTP server at `sink.host`:`sink.port`."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        smtputf8: bool = True,
        login: tuple[str, str] | None = None,
        keep: bool = True,
        port: int = 0,
        fast_data: bool = False,
        rcpt_rate: float = 0.0,
        data_rate: float = 0.0,
        drop_every: int = 0,
        seed: int = 0,
        max_sessions: int | None = None,
        close_at: str = "",
        close_count: int = -1,
        dot_delay: tuple[float, float] = (0.0, 0.0),
        late_commit_rate: float = 0.0,
    ) -> None:
        """`max_sessions`: answer EHLO with 421 once that many (0: any) sessions were
        opened (a relay capping connections). `login`: require AUTH with this
        (username, password); loopback only, so without TLS (as a test relay; never
        expose it). `keep=False`: keep only a `Receipt` per recipient, not the
        message bytes (`received` stays empty).
        `port` 0 picks a free one. `fast_data`: read message data in large chunks
        (for benchmarks: aiosmtpd's line-by-line reading would be the bottleneck).
        The fault arguments are those of `faults()`."""
        self._handler = _Handler(folder, keep=keep, max_sessions=max_sessions)
        self.faults(
            rcpt_rate=rcpt_rate,
            data_rate=data_rate,
            drop_every=drop_every,
            seed=seed,
            close_at=close_at,
            close_count=close_count,
            dot_delay=dot_delay,
            late_commit_rate=late_commit_rate,
        )
        self.host = "127.0.0.1"
        self.port = port or _free_port()
        auth: dict[str, Any] = {}
        if login is not None:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                given = (
                    (data.login.decode(), data.password.decode())
                    if isinstance(data, LoginPassword)
                    else None
                )
                # handled=False: aiosmtpd sends the 235 or 535 reply itself.
                return AuthResult(success=given == login, handled=False)

            auth = {"auth_required": True, "auth_require_tls": False, "authenticator": authenticate}
        if login is not None:
            # aiosmtpd warns, on every connection, that AUTH without TLS is unsafe:
            # true, and this sink only ever listens on 127.0.0.1.
            warnings.filterwarnings(
                "ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning
            )
        controller = FastDataController if fast_data else FaultyController
        self._controller = controller(
            self._handler, hostname=self.host, port=self.port, enable_SMTPUTF8=smtputf8, **auth
        )

    def faults(
        self,
        rcpt_rate: float = 0.0,
        data_rate: float = 0.0,
        drop_every: int = 0,
        seed: int = 0,
        close_at: str = "",
        close_count: int = -1,
        dot_delay: tuple[float, float] = (0.0, 0.0),
        late_commit_rate: float = 0.0,
    ) -> None:
        """From now on: answer `TRY_AGAIN` ("451 4.3.0 try again later") to the
        fraction `rcpt_rate` of RCPT commands and `data_rate` of end-of-data (that
        message is not kept); after the data of every `drop_every`-th message (0:
        never), keep it and close the connection without replying. Deterministic
        for a `seed`: a recipient's k-th RCPT (or DATA) gets the same answer in
        every run. `close_at`, `close_count`, `dot_delay`, `late_commit_rate`: see
        `Faults`. Resets the counts `drop_every` and `close_count` count from."""
        faults = Faults(
            rcpt_rate,
            data_rate,
            drop_every,
            seed,
            close_at,
            close_count,
            (float(dot_delay[0]), float(dot_delay[1])),
            late_commit_rate,
        )
        with self._handler.lock:
            self._handler.faults = faults
            self._handler.seen.clear()
            self._handler.data_commands = 0
            self._handler.closes = 0

    @property
    def received(self) -> list[Received]:
        """Every message taken, with its bytes (empty with `keep=False`)."""
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def receipts(self) -> list[Receipt]:
        """One per recipient of every message taken (answered 250, or dropped)."""
        with self._handler.lock:
            return list(self._handler.receipts)

    def counts(self) -> dict[str, int]:
        """Recipient address (as given at RCPT) → messages taken for it."""
        with self._handler.lock:
            return dict(self._handler.counts)

    def stats(self) -> SinkStats:
        with self._handler.lock:
            return SinkStats(**asdict(self._handler.stats))

    def reset(self) -> None:
        """Forget every message and count (faults and refusals stay)."""
        with self._handler.lock:
            h = self._handler
            h.received.clear()
            h.receipts.clear()
            h.counts.clear()
            h.stats = SinkStats()
            h.seen.clear()
            h.data_commands = 0
            h.closes = 0

    @property
    def sessions(self) -> int:
        """SMTP sessions opened so far (counted by their EHLO/HELO)."""
        with self._handler.lock:
            return self._handler.stats.sessions

    def on_message(self, callback: Callable[[Received], None] | None) -> None:
        """Call `callback` (in the server's thread) after each accepted message."""
        self._handler.on_message = callback

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO:<address> with `reply`, e.g. "550 5.1.1 no such user"."""
        self._handler.refuse[address.lower()] = reply

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        # aiosmtpd's start() opens a session of its own and reads the greeting: it
        # counts for nothing (it has been answered by the time start() returns).
        with self._handler.lock:
            self._handler.closes = 0
            self._handler.stats = SinkStats()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


# -- the sink in a process of its own ------------------------------------------


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    """The child process of `SinkProcess`: answer requests until "stop" or EOF."""
    with SmtpSink(**options) as sink:
        conn.send((sink.host, sink.port))
        while True:
            try:
                command, args = conn.recv()
            except (EOFError, OSError):
                break
            if command == "stop":
                conn.send(None)
                break
            if command == "counts":
                conn.send(sink.counts())
            elif command == "stats":
                conn.send(asdict(sink.stats()))
            elif command == "receipts":
                conn.send([tuple(asdict(r).values()) for r in sink.receipts])
            elif command == "faults":
                sink.faults(**args)
                conn.send(None)
            elif command == "reset":
                sink.reset()
                conn.send(None)
            else:
                conn.send(ValueError(f"unknown command {command!r}"))


class SinkProcess:
    """An `SmtpSink` in a child process (spawned, so it shares no GIL or state with
        the caller): `with SinkProcess(keep=False, drop_every=200) as sink:` serves on
        `sink.host`:`sink.port`; `counts()`, `stats()`, `receipts()`, `faults()` and
        `reset()` ask the child. Takes `SmtpSink`'s keyword arguments except `folder`
        and `login`. A script using it needs an `__all__ = [
        "TRY_AGAIN",
        "Faults",
        "Receipt",
        "Received",
        "SinkProcess",
        "SinkStats",
        "SmtpSink",
        "main",
    ]

    if __name__ == "__main__":` guard."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self.host = "127.0.0.1"
        self.port = 0
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, options), name="digest-smtp-sink", daemon=True
        )
        self._child_conn = child
        self._lock = threading.Lock()

    def _ask(self, command: str, args: dict[str, Any] | None = None) -> Any:
        with self._lock:
            self._conn.send((command, args or {}))
            answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = self._ask("counts")
        return result

    def stats(self) -> SinkStats:
        return SinkStats(**self._ask("stats"))

    def receipts(self) -> list[Receipt]:
        return [Receipt(*row) for row in self._ask("receipts")]

    def faults(self, **faults: Any) -> None:
        """As `SmtpSink.faults`, in the child."""
        self._ask("faults", faults)

    def reset(self) -> None:
        self._ask("reset")

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def __enter__(self) -> SinkProcess:
        self._process.start()
        self._child_conn.close()
        if not self._conn.poll(60):
            self._process.kill()
            raise RuntimeError("the SMTP sink process did not start within 60 s")
        self.host, self.port = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(EOFError, OSError):
            self._ask("stop")
        self._conn.close()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


# -- `python -m digest.loopback.mailsink` -------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m digest.loopback.mailsink",
        description="An SMTP sink on 127.0.0.1 that counts what it receives and can "
        "misbehave; runs until SIGTERM or SIGINT, then writes its counts.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--rcpt-rate", type=float, default=0.0, help="fraction of RCPT → 451")
    parser.add_argument("--data-rate", type=float, default=0.0, help="fraction of DATA → 451")
    parser.add_argument(
        "--drop-every", type=int, default=0, help="close without reply after every Nth message"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--close-at",
        choices=[stage for stage in CLOSE_STAGES if stage],
        default="",
        help='answer 421 and close at this stage ("dot": the reply to the final ".")',
    )
    parser.add_argument(
        "--close-count", type=int, default=-1, help="only the first N times (default: always)"
    )
    parser.add_argument(
        "--dot-delay",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("MIN", "MAX"),
        help="seconds to wait before answering the final '.' (random in [MIN, MAX])",
    )
    parser.add_argument(
        "--late-commit-rate",
        type=float,
        default=0.0,
        help="fraction of delayed messages kept only after the wait",
    )
    parser.add_argument("--keep", action="store_true", help="keep message bytes (in memory)")
    parser.add_argument("--folder", type=Path, help="also write each message here as .eml")
    parser.add_argument(
        "--stats-file",
        type=Path,
        help='on exit (and on SIGUSR1), write {"stats": …, "counts": {address: n}} here as JSON',
    )
    args = parser.parse_args(argv)
    sink = SmtpSink(
        args.folder,
        keep=args.keep,
        port=args.port,
        rcpt_rate=args.rcpt_rate,
        data_rate=args.data_rate,
        drop_every=args.drop_every,
        seed=args.seed,
        close_at=args.close_at,
        close_count=args.close_count,
        dot_delay=tuple(args.dot_delay),
        late_commit_rate=args.late_commit_rate,
    )
    stop = threading.Event()

    def write_stats() -> None:
        if args.stats_file is not None:
            payload = {"stats": asdict(sink.stats()), "counts": sink.counts()}
            write_atomic(args.stats_file, json.dumps(payload).encode())

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == getattr(signal, "SIGUSR1", None):
            write_stats()
        else:
            stop.set()

    for name in ("SIGTERM", "SIGINT", "SIGUSR1"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    with sink:
        print(f"listening on {sink.host}:{sink.port}", flush=True)
        while not stop.wait(0.5):
            pass
    write_stats()
    stats = sink.stats()
    print(
        f"accepted {stats.accepted}, dropped {stats.dropped}, "
        f"refused RCPT {stats.rcpt_refused} DATA {stats.data_refused}, "
        f"closed with 421 {stats.closed}, "
        f"sessions {stats.sessions}",
        file=sys.stderr,
    )
    return 0


__all__ = [
    "TRY_AGAIN",
    "Faults",
    "Receipt",
    "Received",
    "SinkProcess",
    "SinkStats",
    "SmtpSink",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
