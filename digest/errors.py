"""The one exception root of digest.

Owns: the exception hierarchy. Every error we raise on purpose derives from
`DigestError`, carries the thing that failed (a feed URL, a config key and file,
an address) in its message, and an optional `hint` telling the user what to do.
The CLI prints `message` and `hint` and exits non-zero; it never prints a traceback
for a `DigestError`.
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


class AddressError(DigestError):
    """A subscriber address was refused; the message says why."""

    exit_code = 2


class StoreError(DigestError):
    """The SQLite store is unusable (wrong schema version, locked, corrupt)."""


class WeekError(DigestError):
    """A week name such as `2026-W47` is malformed or does not exist."""

    exit_code = 2


class DeliveryError(DigestError):
    """Sending could not go on (SMTP connection, authentication, TLS)."""


class LockBusy(DigestError):
    """Another digest process holds the publishing lock."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later
