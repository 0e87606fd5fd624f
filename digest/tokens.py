"""Signed tokens in readers' links, and the links that carry them.

Owns: making and checking the per-subscriber token carried by the
`List-Unsubscribe` URL and mailto (HMAC-SHA256 with `DIGEST_SECRET`, compared
in constant time), and building those links. Pure: no I/O; a lookup function
is passed in to find the subscriber a token names.

Shared by `digest.mail` (which puts links into messages) and `digest.web` (which
honours them), so that neither of the two imports the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import quote

from digest.models import Subscriber

SIGNATURE_BYTES = 16  # 128 bits: forging one takes ~2**127 guesses
MAX_ID = 2**63 - 1  # SQLite's largest integer


def _signature(key: bytes, subscriber_id: int, email: str) -> str:
    message = f"digest-unsubscribe\n{subscriber_id}\n{email.casefold()}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_token(key: bytes, subscriber: Subscriber) -> str:
    """`<id>.<signature>`: names the subscriber without exposing the address."""
    return f"{subscriber.id}.{_signature(key, subscriber.id, subscriber.email)}"


def verify_token(
    key: bytes, token: str, lookup: Callable[[int], Subscriber | None]
) -> Subscriber | None:
    """The subscriber a token was made for, or None when it is forged or stale."""
    sid_text, _, sig = token.strip().partition(".")
    # ASCII digits only ("²".isdigit() is true), and an id SQLite can hold.
    if not (sid_text.isascii() and sid_text.isdigit()) or len(sid_text) > 19 or not sig:
        return None
    sid = int(sid_text)
    if not 0 < sid <= MAX_ID:
        return None
    subscriber = lookup(sid)
    if subscriber is None:
        return None
    expected = _signature(key, subscriber.id, subscriber.email)
    return subscriber if hmac.compare_digest(expected, sig) else None


def unsubscribe_url(base: str, token: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}token={quote(token, safe='.')}"


def unsubscribe_mailto(address: str, token: str) -> str:
    return f"mailto:{address}?subject={quote('unsubscribe ' + token)}"
