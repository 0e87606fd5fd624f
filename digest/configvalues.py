"""Validating one TOML table of the config, and parsing its single values.

Owns: `Table` (takes known keys with their types, then refuses leftovers with a
"did you mean" hint) and the parsers of values that several tables share:
country codes, http(s) URLs, IP networks, durations, paths relative to the
config file, From addresses. Each raises `ConfigError` naming the key and the
file, with a hint saying how to write it right (`type_hint`: the quotes TOML
reads a type from; `code_for_name`: the code of a country written by name).
Doesn't own: which keys exist or their defaults (`digest.config`).

Every string value is refused when it holds a line break, a control character
or a bidirectional control (`unsafe_character`): such strings reach headers
(Subject, From, User-Agent) and pages, where a CR/LF splits a header and a
U+202E reverses what a reader sees. No setting needs one. `unsafe_character` is
shared with subscriber names (`digest.state.subscribers`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.errors import ConfigError

_LINE_BREAKS = "\r\n\x0b\x0c\x85\u2028\u2029"
# Explicit directional marks, embeddings, overrides and isolates (Unicode TR 9).
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + _LINE_BREAKS + _BIDI_CONTROLS + "]")


def unsafe_character(text: str) -> str | None:
    """What is wrong with `text` as one line of visible text, or None: the first
    line break, control character (C0, C1, NUL, DEL, TAB) or bidi control."""
    found = _UNSAFE.search(text)
    if found is None:
        return None
    ch = found.group()
    code = f"U+{ord(ch):04X}"
    if ch in _LINE_BREAKS:
        return f"contains a line break ({code})"
    if ch in _BIDI_CONTROLS:
        return f"contains a bidirectional control ({code} {unicodedata.name(ch)})"
    return f"contains a control character ({code})"


class Table:
    """One TOML table being validated: takes known keys, then rejects leftovers."""

    def __init__(self, data: Any, file: str, prefix: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError("must be a table", file=file, key=prefix or "(top level)")
        self.data: dict[str, Any] = dict(data)
        self.file = file
        self.prefix = prefix
        self.known: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key(name), hint=hint)

    def take(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.known.add(name)
        if name not in self.data:
            return default
        value = self.data.pop(name)
        # bool is an int in Python; a config that says `port = true` is still wrong.
        if isinstance(value, bool) and kind is not bool:
            raise self.error(
                name,
                f"expected {kind_name(kind)}, got a boolean",
                hint=type_hint(name, kind, value),
            )
        if not isinstance(value, kind):
            raise self.error(
                name,
                f"expected {kind_name(kind)}, got {type(value).__name__}",
                hint=type_hint(name, kind, value),
            )
        for item in value if isinstance(value, list) else [value]:
            problem = unsafe_character(item) if isinstance(item, str) else None
            if problem:
                raise self.error(
                    name,
                    problem,
                    hint="settings are one line of visible text: remove it "
                    "(a TOML escape such as \\u202e counts too)",
                )
        return value

    def text(self, name: str, default: str = "") -> str:
        return str(self.take(name, str, default)).strip()

    def finish(self) -> None:
        for extra in self.data:
            close = difflib.get_close_matches(extra, sorted(self.known), n=1)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else ("known keys: " + ", ".join(sorted(self.known)))
            )
            raise self.error(extra, "unknown key", hint=hint)


def type_hint(name: str, kind: type | tuple[type, ...], value: Any) -> str:
    """How to write `value` as `kind` in TOML, where quotes decide the type: the
    usual slip is a number or true/false in quotes, or a word without them."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, str):
        text = value.strip()
        if (int in kinds or float in kinds) and re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
            return f"write the number without quotes: {name} = {text}"
        if bool in kinds and text.lower() in ("true", "false"):
            return f"write it without quotes, in lower case: {name} = {text.lower()}"
        if list in kinds:
            return f'write a list, even of one: {name} = ["{text}"]'
    if str in kinds and isinstance(value, (bool, int, float)):
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        return f'put it in quotes: {name} = "{shown}"'
    return f"write {kind_name(kind)}; the example config `digest init` writes shows each key"


def kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


# Codes taken without asking babel: the default countries (tests/test_startup.py
# checks babel knows each). Loading babel's territory list costs about 20 ms,
# which every command that reads the config (`subscribers list`) would pay.
_COMMON_TERRITORIES = frozenset(("KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE"))


@cache
def known_territories() -> frozenset[str]:
    """Every ISO 3166 code babel (CLDR) knows."""
    from babel import Locale

    return frozenset(Locale.parse("en").territories)


def country_code(table: Table, name: str, value: str) -> str:
    code = value.strip().upper()
    if code in _COMMON_TERRITORIES:
        return code
    if len(code) != 2 or not code.isalpha() or code not in known_territories():
        meant = code_for_name(value)
        raise table.error(
            name,
            f"{value!r} is not an ISO 3166 country code",
            hint=f'write its code: "{meant}"'
            if meant
            else "use two letters such as KR, JP, CN, HK, TW, SG, IN, AE",
        )
    return code


# Short forms people name a country by where CLDR's name is the long one (also
# OPML folders: digest.cli.opml).
COUNTRY_SHORT_NAMES = {
    "KR": ("Korea", "S. Korea", "한국", "韓國"),
    "HK": ("Hong Kong", "香港", "홍콩"),
    "AE": ("UAE", "U.A.E.", "Emirates"),
    "CN": ("PRC", "Mainland China"),
    "US": ("USA", "U.S.", "US of A"),
    "GB": ("UK", "U.K.", "Britain"),
}
COUNTRY_NAME_LOCALES = ("en", "ja", "zh_Hans", "zh_Hant", "ko", "ar")


def code_for_name(name: str) -> str | None:
    """The ISO 3166 code of a country written by its name ("Japan", "日本", "台灣",
    "Korea", "UK"), or None. Only for an error's hint: it loads six CLDR locales."""
    from babel import Locale

    wanted = name.strip().casefold()
    for code, shorts in COUNTRY_SHORT_NAMES.items():
        if wanted in (s.casefold() for s in shorts):
            return code
    for locale in COUNTRY_NAME_LOCALES:
        for code, full in Locale.parse(locale).territories.items():
            if len(code) == 2 and code.isalpha() and full.casefold() == wanted:
                return str(code)
    return None


def http_url(table: Table, name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        bare = value.strip()
        hint = (
            f'write the whole address, with its scheme: "https://{bare}"'
            if not parts.scheme and bare and not bare.startswith("/") and "." in bare
            else "write an address starting with https:// (or http://)"
        )
        raise table.error(name, f"{value!r} is not an http(s) URL", hint=hint)
    return value


def networks(table: Table, name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A list of addresses or networks: "127.0.0.1", "10.1.2.0/24", "::1", "fd00::/8"."""
    networks = []
    for item in table.take(name, list, []):
        try:
            if not isinstance(item, str):
                raise ValueError(item)
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError as e:
            raise table.error(
                name,
                f"{item!r} is not an IP address or network",
                hint='write addresses or networks, e.g. ["127.0.0.1", "10.1.2.0/24", "::1"]',
            ) from e
    return tuple(networks)


def positive(table: Table, name: str, value: float) -> None:
    if value <= 0:
        raise table.error(name, f"must be greater than 0, got {value}")


_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """ "90s", "15m", "12h", "7d", "2w", or a sum such as "1h30m". Raises ValueError."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a duration")
    return sum((timedelta(**{_DURATION_UNITS[u]: float(n)}) for n, u in parts), start=timedelta())


def duration(table: Table, name: str, default: timedelta) -> timedelta:
    if name not in table.data:
        table.known.add(name)
        return default
    raw = table.take(name, str)
    try:
        return parse_duration(raw)
    except ValueError as e:
        raise table.error(
            name, f"{raw!r} is not a duration", hint='write e.g. "90s", "15m", "12h" or "7d"'
        ) from e


def relative_to(source: Path, value: str) -> Path:
    """A path from the config file: absolute as written, else relative to its folder."""
    return source.parent / Path(value).expanduser()


def data_file(table: Table, source: Path, key: str, project_file: Path) -> Path:
    """A data file named by `key`, relative to the config file; by default the file
    of the same name beside the config file, else the project's own."""
    given = table.text(key)
    if given:
        path = source.parent / given
        if not path.is_file():
            raise table.error(key, f"{path} is not a file")
        return path
    beside = source.parent / project_file.name
    return beside if beside.is_file() else project_file


def from_address(table: Table, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise table.error("from", "must be one line")
    _, addr = parseaddr(value)
    if "@" not in addr:
        raise table.error(
            "from",
            f"{value!r} has no email address",
            hint='write "Display Name <address@example.com>"',
        )
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError) as e:
        raise table.error("from", f"{addr!r} is not a valid address: {e}") from e
    return value
