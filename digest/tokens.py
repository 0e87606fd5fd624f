"""Signed tokens in readers' links, and the links that carry them.

Owns: making and checking the per-subscriber tokens (HMAC-SHA256 with
`DIGEST_SECRET`, compared in constant time), and building the links that
carry them. Each token is bound to one subscriber (id and address) and one
purpose, so an unsubscribe token cannot open preferences and neither can
confirm a signup:

- `unsubscribe`: the `List-Unsubscribe` URL and mailto (`<id>.<sig>`);
- `preferences`: the preferences page (`<id>.<sig>`, another purpose);
- confirmation of a web signup: `<id>.<expires>.<sig>`, which also binds the
  open request's nonce, so it works once, and expires.

Pure: no I/O and no clock; a lookup function is passed in to find the
subscriber a token names, and the time to check expiry against.

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


PURPOSES = ("unsubscribe", "preferences")


def _signature(key: bytes, purpose: str, subscriber_id: int, email: str, *extra: str) -> str:
    fields = [f"digest-{purpose}", str(subscriber_id), email.casefold(), *extra]
    digest = hmac.new(key, "\n".join(fields).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).rstrip(b"=").decode("ascii")


def make_token(key: bytes, subscriber: Subscriber, purpose: str = "unsubscribe") -> str:
    """`<id>.<signature>`: names the subscriber without exposing the address."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return f"{subscriber.id}.{_signature(key, purpose, subscriber.id, subscriber.email)}"


def _subscriber_id(text: str) -> int | None:
    # ASCII digits only ("²".isdigit() is true), and an id SQLite can hold.
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    sid = int(text)
    return sid if 0 < sid <= MAX_ID else None


def verify_token(
    key: bytes,
    token: str,
    lookup: Callable[[int], Subscriber | None],
    purpose: str = "unsubscribe",
) -> Subscriber | None:
    """The subscriber a token was made for, or None when it is forged, stale, made
    for another subscriber or for another purpose."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    sid_text, _, sig = token.strip().partition(".")
    sid = _subscriber_id(sid_text)
    if sid is None or not sig:
        return None
    subscriber = lookup(sid)
    if subscriber is None:
        return None
    expected = _signature(key, purpose, subscriber.id, subscriber.email)
    return subscriber if hmac.compare_digest(expected, sig) else None


def make_confirm_token(key: bytes, subscriber: Subscriber, expires: int) -> str:
    """`<id>.<expires>.<signature>` for the subscriber's open signup request
    (`subscriber.nonce`), valid until `expires` (Unix seconds)."""
    if not subscriber.nonce:
        raise ValueError(f"subscriber {subscriber.id} has no open signup request")
    sig = _signature(
        key, "confirm", subscriber.id, subscriber.email, subscriber.nonce, str(expires)
    )
    return f"{subscriber.id}.{expires}.{sig}"


def verify_confirm_token(
    key: bytes, token: str, lookup: Callable[[int], Subscriber | None], now: int
) -> tuple[Subscriber | None, str]:
    """(subscriber, "") for a valid confirmation token at Unix time `now`; else
    (None, why): "invalid" (forged, truncated, another subscriber's, or its request
    was already confirmed or replaced) or "expired" (a genuine link, too old)."""
    sid_text, _, rest = token.strip().partition(".")
    expires_text, _, sig = rest.partition(".")
    sid = _subscriber_id(sid_text)
    if sid is None or not sig or not (expires_text.isascii() and expires_text.isdigit()):
        return None, "invalid"
    if len(expires_text) > 12:
        return None, "invalid"
    subscriber = lookup(sid)
    if subscriber is None or not subscriber.nonce:
        return None, "invalid"
    expected = _signature(
        key, "confirm", subscriber.id, subscriber.email, subscriber.nonce, expires_text
    )
    if not hmac.compare_digest(expected, sig):
        return None, "invalid"
    if int(expires_text) < now:
        return None, "expired"
    return subscriber, ""


def unsubscribe_url(base: str, token: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}token={quote(token, safe='.')}"


def unsubscribe_mailto(address: str, token: str) -> str:
    return f"mailto:{address}?subject={quote('unsubscribe ' + token)}"


def page_url(base: str, token: str) -> str:
    """A page of `digest serve` (confirm, preferences) with its token in the query."""
    return unsubscribe_url(base, token)
