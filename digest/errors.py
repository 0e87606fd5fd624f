"""The one exception root of digest.

Owns: the exception hierarchy. Every error we raise on purpose derives from
`DigestError`, carries the thing that failed (a feed URL, a config key and file,
an address) in its message, and an optional `hint` telling the user what to do.
The CLI prints `message` and `hint` and exits non-zero; it never prints a traceback
for a `DigestError`.

Exit codes (`exit_code`; sysexits.h numbers where one fits): 1 a run failed; 2 bad
config, arguments, secret, address or template; 73 a path digest must write is
not writable (EX_CANTCREAT); 74 the disk is full or a write failed (EX_IOERR);
75 busy, try later: the publishing lock or the database is held by another
process (EX_TEMPFAIL: cron may simply try again).
"""

from __future__ import annotations


class DigestError(Exception):
    """Root of every error digest raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(DigestError):
    """A config file, key or value is wrong. The message names the key and the file."""

    exit_code = 2

    def __init__(
        self, message: str, *, file: str, key: str | None = None, hint: str | None = None
    ) -> None:
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + message, hint=hint)
        self.file = file
        self.key = key


class SecretMissing(DigestError):
    """A secret that must come from the environment / .env is not set."""

    exit_code = 2


class FeedError(DigestError):
    """One feed could not be fetched or parsed. Caught per feed; never stops a run."""

    def __init__(self, url: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{url}: {reason}", hint=hint)
        self.url = url
        self.reason = reason


class ListenError(DigestError):
    """`digest serve` cannot listen on its host and port; the message says which."""


class AddressError(DigestError):
    """A subscriber address was refused; the message says why."""

    exit_code = 2


class InputFileError(DigestError):
    """A file named on the command line (a CSV or OPML to import) cannot be read:
    a bad argument, like a mistyped option."""

    exit_code = 2


class StoreError(DigestError):
    """The SQLite store is unusable (wrong schema version, corrupt, I/O error)."""


class DatabaseBusy(StoreError):
    """Another process held the database's write lock for longer than the busy
    timeout. Nothing was changed by the statement that waited; try again later."""

    exit_code = 75  # EX_TEMPFAIL

    def __init__(self, path: str, holder: str | None, waited: float) -> None:
        who = f"another process (pid {holder})" if holder else "another process"
        super().__init__(
            f"{path}: the database is locked by {who}; gave up after {waited:g} s",
            hint="wait for it to finish (digest gather/run/send take minutes at most), "
            "then run again; nothing was changed",
        )
        self.path = path
        self.holder = holder


class WriteError(DigestError):
    """A file or folder digest must write could not be written: no permission, a
    read-only file system, or something else in the way. Names the path."""

    exit_code = 73  # EX_CANTCREAT

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason


class DiskFull(WriteError):
    """No space (ENOSPC), quota exceeded (EDQUOT) or the file-size limit reached
    (EFBIG): what was being written was left as it was before."""

    exit_code = 74  # EX_IOERR


class TemplateError(DigestError):
    """A Jinja2 template (usually one of `[templates] dir`) has a syntax error or
    uses a name it is not given. Names the template file and line."""

    exit_code = 2

    def __init__(self, template: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{template}: {reason}", hint=hint)
        self.template = template


class WeekError(DigestError):
    """A week name such as `2026-W47` is malformed or does not exist."""

    exit_code = 2


class DeliveryError(DigestError):
    """Sending could not go on (SMTP connection, authentication, TLS)."""


class LockBusy(DigestError):
    """Another digest process holds the publishing lock."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later
