"""A waitress server (from `digest.web.server.make_server`) run in a thread for a test.

Owns: starting it, and stopping it without a stray exception. Waitress's loop
waits in select() on the listening socket; closing the server from the test's
thread can make that select() fail with EBADF in the loop's thread. That error
is the stop itself, so it is swallowed once a stop was asked for, and only then.
"""

from __future__ import annotations

import threading
from typing import Any


class ServerThread:
    def __init__(self, server: Any) -> None:
        self.server = server
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="digest-serve")

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):
            if not self._stopping.is_set():
                raise

    def stop(self) -> None:
        self._stopping.set()
        self.server.close()
        self._thread.join(timeout=5)
