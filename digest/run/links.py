"""Whether the links readers are mailed lead anywhere: the placeholder-domain check.

Owns: `placeholder_host` (is a URL's host one of the names reserved for
examples and tests, RFC 2606 and RFC 6761: example.com, example.net,
example.org and every name under them, the .example, .test, .invalid and
.localhost top-level domains, localhost itself; and a loopback or unspecified
address, which no reader can reach either) and `placeholder_link` (the first of
the bases mailed links are built from, `[archive] base_url`, `[web] url`,
`[unsubscribe] url`, that is one, as the `ConfigError` that refuses it).

Why: `digest init` writes the example's `base_url = "https://digest.example.com/"`
and everything works with it: build, preview, a test copy. Only readers find
out, when "view in browser", "unsubscribe" and "preferences" lead nowhere (and
an unsubscribe link that does not work is a complaint, not an unsubscribe).
So `send`, `run` and `daemon` refuse, unless `[archive] allow_placeholder_links
= true` (a test install, the demo, the test suite); `send --to` and `--dry-run`
only warn.

Pure: settings in, an error out; never touches the network (no DNS: a name is
judged by its spelling).
"""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from digest.config import Settings
from digest.errors import ConfigError

RESERVED_DOMAINS = ("example.com", "example.net", "example.org")  # RFC 2606 §3
RESERVED_TLDS = ("example", "test", "invalid", "localhost")  # RFC 2606 §2, RFC 6761 §6


def placeholder_host(url: str) -> str | None:
    """What makes `url` a placeholder ("example.com (RFC 2606)", …), or None."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        return None
    for domain in RESERVED_DOMAINS:
        if host == domain or host.endswith("." + domain):
            return f"{domain} is reserved for examples (RFC 2606)"
    tld = host.rsplit(".", 1)[-1]
    if tld in RESERVED_TLDS:
        what = "localhost" if host == "localhost" else f".{tld}"
        return f"{what} is reserved (RFC {'6761' if tld == 'localhost' else '2606'})"
    try:
        address = ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified:
        return f"{address} is this machine, not an address readers can reach"
    return None


def placeholder_link(settings: Settings) -> ConfigError | None:
    """The error refusing the first mailed link base on a placeholder, or None
    (also None when `[archive] allow_placeholder_links` is set)."""
    if settings.archive.allow_placeholder_links:
        return None
    # [web] url and [unsubscribe] url default to base_url: base_url is named first,
    # so a placeholder inherited from it names the key that holds it.
    bases = (
        ("archive.base_url", "[archive] base_url", settings.archive.base_url),
        ("web.url", "[web] url", settings.web.url),
        ("unsubscribe.url", "[unsubscribe] url", settings.unsubscribe_url),
    )
    for key, written, url in bases:
        why = url and placeholder_host(url)
        if why:
            return ConfigError(
                f"{url!r} is a placeholder: {why}; readers' links would lead nowhere",
                file=str(settings.source),
                key=key,
                hint=f"set {written} to your public https address; for a test install, "
                "[archive] allow_placeholder_links = true mails them anyway",
            )
    return None
