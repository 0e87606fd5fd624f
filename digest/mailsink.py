"""A real SMTP server on loopback that keeps what it receives.

Owns: an aiosmtpd server on 127.0.0.1 for the demo, tests and benchmarks, which
stores every message it accepts (in memory, and as .eml files when given a
folder) and can answer chosen recipients with a reply code. Doesn't own: any
sending logic; digest talks to it through smtplib like to any relay.
"""

from __future__ import annotations

import socket
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.files import write_atomic


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # as received, CRLF line ends

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    folder: Path | None
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → reply, at RCPT
    lock: threading.Lock = field(default_factory=threading.Lock)
    greetings: int = 0  # EHLO/HELO commands: one per SMTP session without STARTTLS
    on_message: Callable[[Received], None] | None = None  # called after each accepted message

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        item = Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(data))
        with self.lock:
            self.received.append(item)
            count = len(self.received)
        if self.folder is not None:
            write_atomic(self.folder / f"{count:05d}.eml", item.data)
        if self.on_message is not None:
            self.on_message(item)
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
    ) -> None:
        """`login`: require AUTH with this (username, password); loopback only, so
        without TLS (as a test relay; never expose it)."""
        self._handler = _Handler(folder)
        self.host = "127.0.0.1"
        self.port = _free_port()
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
        self._controller = Controller(
            self._handler, hostname=self.host, port=self.port, enable_SMTPUTF8=smtputf8, **auth
        )

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def sessions(self) -> int:
        """SMTP sessions opened so far (counted by their EHLO)."""
        with self._handler.lock:
            return self._handler.greetings

    def on_message(self, callback: Callable[[Received], None] | None) -> None:
        """Call `callback` (in the server's thread) after each accepted message."""
        self._handler.on_message = callback

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO:<address> with `reply`, e.g. "550 5.1.1 no such user"."""
        self._handler.refuse[address.lower()] = reply

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
