"""DKIM signatures on outgoing messages.

Owns: signing a serialised message with the `[dkim]` settings and the private
key from the environment (dkimpy, rsa-sha256, relaxed/simple canonicalisation),
and refusing a key that cannot sign before any message is sent (`make_signer`).
Doesn't own: composing messages (`digest.mail.compose`) or sending them
(`digest.mail.deliver`), nor publishing the public key (a DNS TXT record at
`<selector>._domainkey.<domain>`, which is the operator's job).
"""

from __future__ import annotations

import dkim

from digest.config import DkimSettings, Settings
from digest.credentials import Secrets
from digest.errors import SecretMissing


class Signer:
    """Signs messages for one `[dkim]` configuration; checks the key on creation."""

    def __init__(self, settings: DkimSettings, private_key: bytes) -> None:
        self.settings = settings
        self._key = private_key
        self._selector = settings.selector.encode("ascii")
        self._domain = settings.domain.encode("idna")
        self._headers = [h.strip().lower().encode("ascii") for h in settings.headers]
        probe = b"From: probe@" + self._domain + b"\r\nSubject: probe\r\n\r\nprobe\r\n"
        try:
            self.sign(probe)
        except (dkim.DKIMException, ValueError, IndexError) as e:
            raise SecretMissing(
                f"the DKIM private key cannot sign: {e}",
                hint="DIGEST_DKIM_PRIVATE_KEY must hold an RSA private key in PEM form",
            ) from e

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended (CRLF line ends)."""
        header = dkim.sign(
            message,
            self._selector,
            self._domain,
            self._key,
            canonicalize=(b"relaxed", b"simple"),
            include_headers=self._headers,
            linesep=b"\r\n",
        )
        return bytes(header) + message


def make_signer(settings: Settings, secrets: Secrets) -> Signer | None:
    """A DKIM signer when `[dkim]` is configured (its key checked now, before sending)."""
    if settings.dkim is None:
        return None
    return Signer(settings.dkim, secrets.require_dkim_key())
