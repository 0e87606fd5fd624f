"""Secrets: from the environment or `.env` only, never from the TOML file.

Owns: the names of the secret variables, which `.env` file is read (the one
beside the config file, else the one in the current folder), reading them (the
environment wins over `.env`, which is read, not exported), and refusing a
missing or weak one with a hint. Doesn't own: the hand-edited settings
(`digest.config`).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from digest.errors import SecretMissing

ENV_SMTP_PASSWORD = "DIGEST_SMTP_PASSWORD"
ENV_IMAP_PASSWORD = "DIGEST_IMAP_PASSWORD"  # `digest inbox` without a SOURCE: [inbox]
ENV_SECRET = "DIGEST_SECRET"
ENV_DKIM_KEY = "DIGEST_DKIM_PRIVATE_KEY"  # the PEM text (a literal "\n" counts as a line break)
ENV_DKIM_KEY_FILE = "DIGEST_DKIM_KEY_FILE"  # or a path to the PEM file
# The optional second signature (RFC 8463), with `[dkim] ed25519_selector`: PEM, or
# the base64 32-byte seed dkimpy's dknewkey writes; or a path to either.
ENV_DKIM_ED25519_KEY = "DIGEST_DKIM_ED25519_PRIVATE_KEY"
ENV_DKIM_ED25519_KEY_FILE = "DIGEST_DKIM_ED25519_KEY_FILE"
MIN_SECRET_LENGTH = 16
# A .env file is read as text, never run by a shell: `DIGEST_SECRET=$(python -c …)`
# there is the command itself, the same 60 characters in every install that
# copied it. A value that still holds a command substitution is refused.
_UNEXPANDED = ("$(", "`")


@dataclass(frozen=True, slots=True)
class Secrets:
    """Secrets, from the environment or `.env` only, never from the TOML file."""

    smtp_password: str | None
    signing_key: bytes | None
    dkim_key: bytes | None = None  # PEM private key for [dkim]
    imap_password: str | None = None  # for [inbox] (`digest inbox` over IMAP)
    dkim_ed25519_key: bytes | None = None  # for [dkim] ed25519_selector
    env_file: Path | None = None  # the .env read (or looked for): hints name it

    def require_dkim_key(self) -> bytes:
        if not self.dkim_key:
            raise SecretMissing(
                f"[dkim] is configured but neither {ENV_DKIM_KEY} nor {ENV_DKIM_KEY_FILE} is set",
                hint="put the PEM private key (or its path) in .env, or remove [dkim]",
            )
        return self.dkim_key

    def require_imap_password(self) -> str:
        if not self.imap_password:
            raise SecretMissing(
                f"{ENV_IMAP_PASSWORD} is not set: `digest inbox` without a SOURCE logs in "
                "to the [inbox] IMAP server",
                hint=f"put {ENV_IMAP_PASSWORD}=... in .env beside digest.toml, or give "
                "`digest inbox` a Maildir, an mbox or -",
            )
        return self.imap_password

    def require_smtp_password(self, username: str) -> None:
        """Refuse to start sending as `username` without its password: said once,
        before the issue is built, not as a failed connection mid-run."""
        if username and not self.smtp_password:
            where = f" ({self.env_file})" if self.env_file is not None else ""
            raise SecretMissing(
                f"{ENV_SMTP_PASSWORD} is not set: [smtp] username = {username!r} logs in",
                hint=f"put {ENV_SMTP_PASSWORD}=... in the environment or in .env{where}, "
                "or remove [smtp] username if the server needs no login",
            )

    def require_signing_key(self) -> bytes:
        if not self.signing_key:
            raise SecretMissing(
                f"{ENV_SECRET} is not set: it signs the unsubscribe links in every message",
                hint=_secret_hint(self.env_file),
            )
        return self.signing_key


def _secret_hint(env_file: Path | None) -> str:
    """A shell command that appends a fresh random secret to the right .env: run
    in a shell, so the value is generated there (a .env file runs nothing)."""
    target = shlex.quote(str(env_file) if env_file is not None else ".env")
    return (
        "run this in a shell to add a fresh random one: python3 -c 'import secrets; "
        f'print("{ENV_SECRET}=" + secrets.token_urlsafe(32))\' >> {target}'
    )


def env_file_for(config: Path) -> Path:
    """The `.env` beside the config file; else, where none is, the current folder's
    (where digest looked before 0.2, so older installs keep their secrets)."""
    beside = config.parent / ".env"
    return beside if beside.is_file() else Path.cwd() / ".env"


def load_secrets(env_file: Path | None = None) -> Secrets:
    """Read secrets from the process environment, then `env_file` (the environment wins);
    by default the current folder's `.env`. See `env_file_for`.

    The `.env` values are read, not exported: os.environ is left as it was. A
    relative `DIGEST_DKIM_KEY_FILE` given in the `.env` file is relative to its folder.
    """
    path = env_file or Path.cwd() / ".env"
    dotenv = {k: v for k, v in dotenv_values(path).items() if v} if path.is_file() else {}

    def lookup(name: str) -> str | None:
        return os.environ.get(name) or dotenv.get(name) or None

    def key_file(name: str) -> str | None:
        file = lookup(name)
        if file and not os.environ.get(name):
            file = str(path.parent / Path(file).expanduser())
        return file

    key = lookup(ENV_SECRET)
    if key is not None and any(mark in key for mark in _UNEXPANDED):
        raise SecretMissing(
            f"{ENV_SECRET} holds a shell command ({key[:24]}…), not its output: "
            f"{path.name} files are read as text, never run",
            hint=_secret_hint(path),
        )
    if key is not None and len(key) < MIN_SECRET_LENGTH:
        raise SecretMissing(
            f"{ENV_SECRET} is too short ({len(key)} characters, need {MIN_SECRET_LENGTH}+)",
            hint="use a long random value; anyone who guesses it can unsubscribe anyone",
        )
    return Secrets(
        smtp_password=lookup(ENV_SMTP_PASSWORD),
        signing_key=key.encode() if key else None,
        dkim_key=_dkim_key(lookup(ENV_DKIM_KEY), key_file(ENV_DKIM_KEY_FILE), ENV_DKIM_KEY_FILE),
        dkim_ed25519_key=_dkim_key(
            lookup(ENV_DKIM_ED25519_KEY),
            key_file(ENV_DKIM_ED25519_KEY_FILE),
            ENV_DKIM_ED25519_KEY_FILE,
        ),
        imap_password=lookup(ENV_IMAP_PASSWORD),
        env_file=path,
    )


def _dkim_key(pem: str | None, file: str | None, variable: str) -> bytes | None:
    if pem:
        return pem.replace("\\n", "\n").encode()
    if file:
        try:
            return Path(file).read_bytes()
        except OSError as e:
            raise SecretMissing(f"{variable}={file}: cannot read the DKIM key: {e.strerror}") from e
    return None
