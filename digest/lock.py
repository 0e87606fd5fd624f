"""The publishing lock.

Owns: one exclusive, non-blocking file lock next to the database, so that two
cron runs, or cron and the daemon, can never build and send the same week at
the same time. The kernel drops the lock when the process dies, so a crash
never leaves a stale lock behind. Doesn't own: deciding what to publish.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import LockBusy


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".lock")


@contextmanager
def publishing_lock(store_path: Path) -> Iterator[None]:
    path = lock_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise LockBusy(
                f"{path}: another digest process (pid {holder}) is publishing",
                hint="it will finish on its own; this run changed nothing",
            ) from e
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
