"""The publishing lock.

Owns: one exclusive, non-blocking file lock next to the database, so that two
cron runs, or cron and the daemon, can never build and send the same week at
the same time. The kernel drops the lock when the process dies, so a crash
never leaves a stale lock behind; `lock_holder` tells who holds it now (the
pid the holder wrote into the file), for messages about a busy database.
Doesn't own: deciding what to publish.

A lock taken with `nested=True` may be taken again by the same thread:
`run_once` takes it so to make its decision and `send` takes it again to
deliver, without a gap in between in which another process could slip in.
Otherwise, and for any other thread, a second taker is refused like another
process.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import LockBusy
from digest.state.files import write_error

_held: dict[Path, tuple[int, int, bool]] = {}  # lock file -> (thread id, depth, nested)
_held_guard = threading.Lock()


def lock_path(store_path: Path) -> Path:
    return store_path.with_name(store_path.name + ".lock")


def lock_holder(store_path: Path) -> str | None:
    """The pid recorded by the process holding the publishing lock of the database
    at `store_path` now, or None when nobody holds it (or it was never taken).
    Creates nothing: a missing lock file means no holder."""
    path = lock_path(store_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 64, 0).decode("ascii", "replace").strip() or None
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _busy(path: Path, holder: str) -> LockBusy:
    return LockBusy(
        f"{path}: another digest process (pid {holder}) is publishing",
        hint="it will finish on its own; this run changed nothing",
    )


@contextmanager
def publishing_lock(store_path: Path, *, nested: bool = False) -> Iterator[None]:
    """Hold the publishing lock, or raise `LockBusy` at once."""
    path = lock_path(store_path).resolve()
    me = threading.get_ident()
    with _held_guard:
        owner = _held.get(path)
        if owner is not None:
            if owner[0] != me or not owner[2]:
                raise _busy(path, f"{os.getpid()}, this one")
            _held[path] = (me, owner[1] + 1, True)
    if owner is not None:
        try:
            yield
        finally:
            with _held_guard:
                _held[path] = (me, _held[path][1] - 1, True)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise write_error(path, e, "cannot open the publishing lock file") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise _busy(path, holder) from e
        with _held_guard:
            if path in _held:  # another thread of ours won the race for the same file
                raise _busy(path, f"{os.getpid()}, this one")
            _held[path] = (me, 1, nested)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            with _held_guard:
                del _held[path]
    finally:
        os.close(fd)  # closing the descriptor releases the lock
