"""Parser processes die with the gather that started them, however it ended.

Owns: `bind_to(pid)`, called first thing in every parser worker. A `digest
gather` killed with SIGKILL runs no cleanup at all, and a worker blocked on its
task queue would otherwise wait for good (it holds the queue's write end
itself, so it never sees EOF), keeping the fork server's children and the
resource tracker alive (≈120 MB). Two independent ways out:

1. Linux: `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the worker when
   its parent (the fork server, which itself exits when the gather process
   closes its end of the "alive" pipe, i.e. dies) goes away.
2. Everywhere: a daemon thread that checks every `POLL_SECONDS` whether the
   gather process (its pid and start time, so a reused pid does not count) is
   still alive and not a zombie, and ends the worker with `os._exit` otherwise.

Doesn't own: the pool itself (`digest.fetch.workers`). No I/O but /proc reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def process_identity(pid: int) -> str | None:
    """A pid's start time (clock ticks since boot) from /proc, or None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text("ascii", "replace")
    except FileNotFoundError:
        return ""  # /proc exists, the process does not
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def alive(pid: int, identity: str | None) -> bool:
    """Whether the process `pid` started at `identity` still runs (zombies do not)."""
    if identity is None:  # no /proc: the best a portable check can do
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text("ascii", "replace")
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] in ("Z", "X", "x"):
        return False
    return len(fields) > 19 and fields[19] == identity


def bind_to(pid: int, identity: str | None) -> None:
    """End this process when `pid` (the gather process) is gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not alive(pid, identity):
        os._exit(1)  # gone before the death signal was even armed

    def watch() -> None:
        while alive(pid, identity):
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="digest-lifeline", daemon=True).start()
