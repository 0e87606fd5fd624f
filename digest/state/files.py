"""Crash-safe file writing, and what a failed write means to the user.

Owns: writing a file so that readers see either the old or the new content,
never a torn one (temporary file in the same folder, fsync, `os.replace`,
fsync of the folder), or leaving it alone when it already holds those bytes
(`write_if_changed`); removing the temporary files a killed writer left
behind; and turning an `OSError` from writing into one `DigestError` that names
the path (`write_error`: a full disk is `DiskFull`, anything else `WriteError`).
Doesn't own: what is written or where.

Temporary files are named `.<name>.<8 random characters>.tmp`. A run killed
between creating one and renaming it leaves it behind; the first `write_atomic`
into a folder in a process removes the ones there older than
`STALE_TEMP_SECONDS`, never a younger one, which may belong to a writer
running now.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path

from digest.errors import DiskFull, WriteError

log = logging.getLogger(__name__)

# Older than this, a temporary file belongs to no live writer: writing one
# issue page or message takes milliseconds, and write_atomic touches it throughout.
STALE_TEMP_SECONDS = 5 * 60
# mkstemp's names: prefix, 8 characters of [a-z0-9_], suffix.
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file size limit, ulimit -f, was reached)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a file is in the way where a folder should be",
    errno.EISDIR: "is a folder, not a file",
}

_swept: set[Path] = set()
_swept_guard = threading.Lock()


def write_error(path: Path | str, error: OSError, doing: str = "cannot write") -> WriteError:
    """The `DigestError` for an `OSError` met while writing `path`: `DiskFull` for
    ENOSPC, EDQUOT and EFBIG, else `WriteError`; the message names the path."""
    code = error.errno
    reason = _REASONS.get(code or 0) or error.strerror or str(error)
    where = Path(error.filename) if isinstance(error.filename, str) else Path(path)
    if code in _FULL:
        return DiskFull(
            str(where),
            f"{doing}: {reason}",
            hint="free some space (or raise the limit), then run again; "
            "the file was left as it was before",
        )
    hint = None
    if code in (errno.EACCES, errno.EPERM):
        hint = f"give the user running digest (uid {os.geteuid()}) write permission there"
    elif code == errno.EROFS:
        hint = "point the setting at a writable file system"
    return WriteError(str(where), f"{doing}: {reason}", hint=hint)


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o644, durable: bool = True) -> None:
    """Write `data` to `path` atomically; str is written as UTF-8.

    The file gets `mode` before it appears under its name, so a secret written
    with 0o600 is never readable by others, not even for a moment. Raises
    `DiskFull` or `WriteError` (naming the path) when the write fails; the old
    content, if any, is then untouched.

    `durable=False` skips the two fsyncs (the file's, then the folder's), which
    cost a millisecond or more each: readers still see the old file or the new
    one, never a torn one, but a power cut right after may leave the old one
    (or, on file systems that don't flush data before a rename, an empty one).
    Only for files the next run makes again, and checks (the archive's
    listings: `write_if_changed` rewrites a file whose bytes differ)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(path.parent, e, "cannot create the folder") from e
    _sweep_once(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path.parent, e, "cannot create a file in this folder") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise write_error(path, e) from e
        raise
    if durable:
        _fsync_dir(path.parent)


def write_if_changed(
    path: Path, data: bytes | str, *, mode: int = 0o644, durable: bool = True
) -> bool:
    """`write_atomic`, unless `path` already holds exactly `data`; True if written.

    For sites rebuilt in place (the archive): a page whose bytes are the same
    keeps its file, its modification time and its inode, so a copy with
    `rsync` or a web server's cache sees it unchanged. Reading costs less than
    writing, and much less than the fsyncs of a write. `mode` and `durable`
    (see `write_atomic`) apply only when the file is written."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.stat().st_size == len(payload) and path.read_bytes() == payload:
            return False
    except OSError:
        pass  # missing or unreadable: write it, and let writing report the error
    write_atomic(path, payload, mode=mode, durable=durable)
    return True


def remove_stale_temp_files(folder: Path, *, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove `write_atomic`'s temporary files in `folder` last modified more than
    `older_than` seconds ago; returns how many. A missing folder has none."""
    cutoff = time.time() - older_than
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    except OSError as e:
        log.warning("%s: cannot look for stale temporary files: %s", folder, e.strerror)
        return 0
    for entry in entries:
        if not _TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime > cutoff:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # another run swept it first
        except OSError as e:
            log.warning("%s: cannot remove a stale temporary file: %s", entry.path, e.strerror)
            continue
        removed += 1
        log.info("%s: removed a temporary file left by a killed run", entry.path)
    return removed


def _sweep_once(folder: Path) -> None:
    # Once per folder per process: a send writes thousands of files into one folder.
    key = folder.absolute()
    with _swept_guard:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale_temp_files(folder)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every filesystem allows opening a folder.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
