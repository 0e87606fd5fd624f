"""The one settings loader.

Owns: finding the config file (`--config`, else `$DIGEST_CONFIG`, else
`digest.toml` in the current folder, else `config/digest.toml`), reading that
hand-edited TOML into frozen dataclasses, and validating every key before any
network I/O. Doesn't own: secrets (`digest.credentials`), machine state (SQLite,
`digest.state.store`), or where digest's own data files are (`digest.bundled`).

Every default is documented here, next to where it is defined; the README's
config reference mirrors this file. Relative paths in the config resolve
against the folder of the config file, never the current working directory, so
cron, systemd and `cd` elsewhere all mean the same files.

An unknown key or a bad value raises `ConfigError` naming the key and the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from email.utils import parseaddr
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest import __version__, bundled
from digest.configvalues import (
    Table,
    country_code,
    data_file,
    duration,
    from_address,
    http_url,
    networks,
    parse_duration,
    positive,
    relative_to,
)
from digest.errors import ConfigError

__all__ = ["parse_duration"]  # re-exported: durations are config values

# Looked for in the current folder, in this order, without --config or $DIGEST_CONFIG:
# what `digest init` writes, then the source checkout's example.
ENTITIES_FILE_NAME = "entities.tsv"  # a user's knowledge-base rows, beside the config
DEFAULT_CONFIG_PATHS = (Path("digest.toml"), Path("config/digest.toml"))
ENV_CONFIG = "DIGEST_CONFIG"
# Headers every DKIM signature covers (RFC 8058 asks for both List-Unsubscribe ones).
DKIM_HEADERS = (
    "From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
    "MIME-Version", "Content-Type",
)  # fmt: skip

DEFAULT_COUNTRIES = ("KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE")
SUPPORTED_LANGUAGES = ("ja", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
EMPTY_WEEK_MODES = ("skip", "quiet")
FEED_FILTERS = ("ai",)  # topics of config/topics.toml a feed can be filtered on


@dataclass(frozen=True, slots=True)
class Publish:
    """When an issue goes out: a weekday (0 = Monday) and a local time."""

    weekday: int
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at:%H:%M}"


@dataclass(frozen=True, slots=True)
class DigestSettings:
    title: str = "アジアAIハブ週報"
    language: str = "ja"  # language of labels and dates: "ja" or "en"
    timezone: str = "Asia/Tokyo"  # IANA zone for the publish time and dates shown
    publish: Publish = Publish(0, time(8, 0))  # "mon 08:00"
    countries: tuple[str, ...] = DEFAULT_COUNTRIES  # section order; "Global" comes last
    max_per_section: int = 10  # stories per section in the email; the web page lists all
    contact: str = ""  # shown in the footer, e.g. "editor@example.com"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class FeedSettings:
    url: str
    name: str = ""  # display name; defaults to the feed's own title, then its host
    country: str = ""  # a hint (prior) for classification, ISO 3166 alpha-2
    language: str = ""  # a hint; feeds often declare the wrong one
    local: bool = False  # local news: its stories that name no country are about `country`
    filter: str = ""  # "ai": keep only stories about AI (config/topics.toml)
    site: str = ""  # the outlet's web page (OPML htmlUrl); `digest feeds export` writes it


@dataclass(frozen=True, slots=True)
class GatherSettings:
    timeout: float = 20.0  # seconds, per request
    total_timeout: float = 60.0  # seconds per feed, all redirects included
    max_bytes: int = 10 * 1024 * 1024  # larger responses are refused
    max_redirects: int = 5
    max_new_items: int = 200  # new posts kept per feed per run; the rest wait (logged)
    concurrency: int = 128  # feeds fetched at once (100 feeds in one round)
    # Feeds fetched at once from one host (where each is asked first): a
    # host that serves many feeds (RSSHub, Feedburner, Google News, one outlet's
    # section feeds) refuses a burst of 100 with 429s. 0 = only `concurrency`.
    per_host: int = 4
    # Networks a feed may be fetched from although they are not public: loopback,
    # private, link-local, ... are refused otherwise (server-side request forgery).
    allow_private: tuple[IPv4Network | IPv6Network, ...] = ()
    user_agent: str = f"digest/{__version__} (weekly AI news digest)"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    from_addr: str  # `from` in the file: "Name <addr@example.com>"
    port: int = 587  # default follows security: 587 starttls, 465 ssl, 25 none
    security: str = "starttls"  # starttls | ssl | none
    username: str = ""  # empty: no AUTH; the password comes from DIGEST_SMTP_PASSWORD
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How messages go out: parallelism, providers' caps, retries, bounces."""

    connections: int = 4  # SMTP connections used at once, each reused for many messages
    max_per_second: float = 0  # all connections together; 0 = no limit
    max_per_connection: int = 0  # QUIT and reconnect after this many; 0 = no limit
    max_per_hour: int = 0  # all connections together; 0 = no limit
    max_attempts: int = 8  # temporary (4xx) refusals of one message before it is failed
    retry_after: timedelta = timedelta(minutes=5)  # first backoff after a 4xx; doubles
    max_retry_after: timedelta = timedelta(hours=6)  # backoff never grows beyond this
    bounce_after: int = 2  # permanent (5xx) failures in a row that mark a subscriber bouncing


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """Unattended runs: `digest daemon` and `digest run` from cron.

    The publish weekday, time and time zone are `[digest] publish` and `timezone`.
    """

    gather_every: timedelta = timedelta(minutes=60)  # daemon: fetch feeds this often
    jitter: timedelta = timedelta(minutes=5)  # daemon: random delay added to each gather
    lateness: timedelta = timedelta(hours=12)  # publish at most this long after the due time
    lookback: timedelta = timedelta(days=7)  # first run: older posts are stored, never sent
    empty_week: str = "skip"  # a week without stories: "skip" (no email) or "quiet"
    reports_dir: Path = Path("var/reports")  # one report file per run; keep it non-public


@dataclass(frozen=True, slots=True)
class DkimSettings:
    domain: str  # d= : the signing domain, usually the From address's
    selector: str  # s= : the DNS record is <selector>._domainkey.<domain>
    headers: tuple[str, ...] = DKIM_HEADERS  # h= : headers covered by the signature
    # A second, ed25519-sha256 signature (RFC 8463) under this selector; "" for none.
    ed25519_selector: str = ""


@dataclass(frozen=True, slots=True)
class ArchiveSettings:
    dir: Path = Path("archive")
    base_url: str = ""  # public URL of `dir`, ending in "/"; required to send mail
    # Mail readers links on example.com, *.test, localhost, … (RFC 2606/6761) anyway, in
    # base_url, [web] url or [unsubscribe] url: a test install only (digest.run.links).
    allow_placeholder_links: bool = False


@dataclass(frozen=True, slots=True)
class InboxSettings:
    """[inbox]: the IMAP folder `digest inbox` reads without a SOURCE (bounces,
    complaints, mailto unsubscribes). TLS only; the password is DIGEST_IMAP_PASSWORD."""

    host: str
    username: str
    port: int = 993  # IMAP over TLS (imaps)
    folder: str = "INBOX"
    timeout: float = 30.0  # seconds per network operation


@dataclass(frozen=True, slots=True)
class WebSettings:
    """[web]: `digest serve`, the readers' pages (subscribe, confirm, preferences,
    unsubscribe). Links in mails are built from `url`, never from a request's Host."""

    url: str = ""  # public URL of the pages, ending in "/"; default [archive] base_url
    confirm_within: timedelta = timedelta(hours=48)  # a confirmation link's lifetime
    # /subscribe POSTs one client address may make ("limits" syntax, ";" between
    # windows); over it, 429. Per address: confirmation mails one address may get.
    ip_limit: str = "5/minute;30/hour"
    address_limit: str = "3/day"
    archive: bool = True  # also serve [archive] dir (one command serves everything)
    base_path: str = ""  # served under this path behind a proxy, e.g. "/digest"
    # Proxies whose X-Forwarded-For/-Proto/-Host headers are believed ("*": any).
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    source: Path  # the config file read
    digest: DigestSettings
    feeds: tuple[FeedSettings, ...]
    gather: GatherSettings
    smtp: SmtpSettings | None  # None: messages go to `outbox_dir` as .eml files
    storage_path: Path  # [storage] path, default var/digest.sqlite3
    archive: ArchiveSettings
    outbox_dir: Path  # [outbox] dir, default var/outbox
    sender: str  # From: header; [smtp] from, else [outbox] from
    unsubscribe_url: str  # [unsubscribe] url, default <base_url>unsubscribe
    unsubscribe_mailto: str  # [unsubscribe] mailto, default the From address
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # [aliases]
    templates_dir: Path = bundled.TEMPLATES_DIR  # searched first; digest's own templates after
    dkim: DkimSettings | None = None  # [dkim]; None: messages go out unsigned
    places_file: Path = bundled.PLACES_FILE  # [digest] places
    topics_file: Path = bundled.TOPICS_FILE  # [digest] topics
    # [digest] entities: the user's own rows of the knowledge base (config/entities/
    # README.md), added to digest's; default `entities.tsv` beside the config, if any.
    entities_file: Path | None = None
    delivery: DeliverySettings = DeliverySettings()  # [delivery]
    schedule: ScheduleSettings = ScheduleSettings()  # [schedule]
    inbox: InboxSettings | None = None  # [inbox]; None: `digest inbox` needs a SOURCE
    web: WebSettings = WebSettings()  # [web]


def _entities_file(table: Table, source: Path) -> Path | None:
    """`[digest] entities`, else `entities.tsv` beside the config, else None. Its rows
    are checked when the classifier reads them (`digest.run.pipeline.classifier`)."""
    given = table.text("entities")
    path = source.parent / (given or ENTITIES_FILE_NAME)
    if path.is_file():
        return path
    if given:
        raise table.error("entities", f"{path} is not a file")
    return None


def config_path(cli_value: str | None) -> Path:
    """`--config`, else `$DIGEST_CONFIG`, else the first of `DEFAULT_CONFIG_PATHS`
    that exists in the current folder (the first of them when none does)."""
    if cli_value:
        return Path(cli_value)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return next((p for p in DEFAULT_CONFIG_PATHS if p.is_file()), DEFAULT_CONFIG_PATHS[0])


PORT_HINT = "a port is 1 to 65535: 587 for starttls, 465 for ssl, 25 for none"
# The slips behind most TOML syntax errors, for the hint under one.
TOML_HINT = (
    'look at that line and the one before: text needs quotes (title = "…"), a quote '
    "or bracket may be left open, a key may be written twice, and a [table] or "
    "[[feeds]] header stands on a line of its own"
)


def _where_looked(path: Path) -> str:
    """Why that file, for a stranger in the wrong folder (cron starts in $HOME) or
    with a stale $DIGEST_CONFIG: " (named by $DIGEST_CONFIG)", " (looked in /x)"."""
    if os.environ.get(ENV_CONFIG) == str(path):
        return f" (named by ${ENV_CONFIG})"
    if path.is_absolute():
        return ""
    return f" (looked in {Path.cwd()})"


def load_settings(path: Path) -> Settings:
    """Read and validate the whole config file. Raises `ConfigError`."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise ConfigError(
            "config file not found" + _where_looked(path),
            file=name,
            hint="write one with `digest init DIR` (then pass --config DIR/digest.toml, "
            "or run digest in DIR), or set $DIGEST_CONFIG",
        ) from e
    except IsADirectoryError as e:
        inside = path / DEFAULT_CONFIG_PATHS[0]
        raise ConfigError(
            "cannot read config file: Is a directory",
            file=name,
            hint=f"--config and ${ENV_CONFIG} name the file itself: {inside}"
            if inside.is_file()
            else f"--config and ${ENV_CONFIG} name the file itself, e.g. DIR/digest.toml",
        ) from e
    except OSError as e:
        raise ConfigError(f"cannot read config file: {e.strerror}", file=name) from e
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError("config file is not UTF-8", file=name) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}", file=name, hint=TOML_HINT) from e
    settings = parse_settings(data, source=path)
    check_paths(settings)
    return settings


def check_paths(settings: Settings) -> None:
    """Refuse a folder digest will write into that it cannot write: `[storage]
    path` (its folder, and the file itself when it exists), `[archive] dir`,
    `[schedule] reports_dir`, and `[outbox] dir` when mail goes there.

    Looks, creates nothing: a path that does not exist yet is judged by its
    nearest existing ancestor (a folder, writable and searchable), since digest
    creates the rest when it first writes. Loading a config has no side
    effects, so a typo in a path never leaves folders behind. `load_settings`
    calls it; `parse_settings` stays pure for tests that name paths they never
    write."""
    file = str(settings.source)
    folders = [
        ("storage.path", settings.storage_path.parent),
        ("archive.dir", settings.archive.dir),
        ("schedule.reports_dir", settings.schedule.reports_dir),
    ]
    if settings.smtp is None:
        folders.append(("outbox.dir", settings.outbox_dir))
    for key, folder in folders:
        problem = _unwritable_folder(folder)
        if problem:
            hint = (
                f"give the user running digest (uid {os.geteuid()}) write permission "
                "there, or name another folder"
                if problem.endswith("not writable")
                else f"point {key} at a folder (digest creates a missing one), "
                "or move the file away"
            )
            raise ConfigError(problem, file=file, key=key, hint=hint)
    db = settings.storage_path
    if db.is_dir():
        raise ConfigError(
            f"{db} is a folder; name the database file",
            file=file,
            key="storage.path",
            hint=f'name a file in it, e.g. path = "{db.name}/digest.sqlite3"',
        )
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        raise ConfigError(
            f"{db} is not writable",
            file=file,
            key="storage.path",
            hint=f"give the user running digest (uid {os.geteuid()}) write permission",
        )


def _unwritable_folder(folder: Path) -> str | None:
    """Why digest could not create or write into `folder`, or None."""
    path = folder.absolute()
    for ancestor in (path, *path.parents):
        if not os.path.lexists(ancestor):
            continue
        if not ancestor.is_dir():
            what = (
                "is not a folder"
                if ancestor == path
                else f"cannot be created: {ancestor} is a file"
            )
            return f"{path} {what}"
        if not os.access(ancestor, os.W_OK | os.X_OK):
            if ancestor == path:
                return f"{path} is not writable"
            return f"{path} cannot be created: {ancestor} is not writable"
        return None
    return None


def check_moved_paths(settings: Settings, cwd: Path) -> None:
    """Refuse a config whose state stayed where an older digest put it.

    Before 0.2 relative paths followed the current folder; now they follow the
    config file's. The old layout was a config in a folder below the one digest
    ran in (`config/digest.toml`, run from the project folder). For such a
    config, a relative `[storage] path` or `[archive] dir` that now names
    nothing, while the same text read from the current folder names a database
    or a published archive, would silently start an empty one: raise
    `ConfigError` saying what to write instead. Configs elsewhere are new
    installs and are never refused.
    """
    base, cwd = settings.source.parent.absolute(), cwd.absolute()
    if base == cwd or not base.is_relative_to(cwd):
        return
    checks = (
        ("storage.path", settings.storage_path, Path()),  # a database file
        ("archive.dir", settings.archive.dir, Path("index.html")),  # a published archive
    )
    for key, path, sign_of_state in checks:
        try:
            written = path.absolute().relative_to(base)
        except ValueError:
            continue  # absolute, elsewhere
        old = cwd / written
        if not path.exists() and (old / sign_of_state).is_file():
            section, name = key.split(".")
            raise ConfigError(
                f"{written} now means {path.absolute()} (relative paths follow the config "
                f"file's folder), which does not exist; {old} (the old meaning, from the "
                "current folder) holds your data",
                file=str(settings.source),
                key=key,
                hint=f'write {name} = "{os.path.relpath(old, base)}" under [{section}], '
                "or an absolute path",
            )


def _parse_publish(table: Table, value: str) -> Publish:
    hint = 'write a weekday and a 24-hour time, e.g. "mon 08:00"'
    parts = value.strip().lower().split()
    if len(parts) != 2:
        raise table.error("publish", f"{value!r} is not a weekday and time", hint=hint)
    day, clock = parts
    day = day[:3]
    if day not in WEEKDAYS:
        raise table.error("publish", f"{parts[0]!r} is not a weekday", hint=hint)
    try:
        hour, minute = (int(x) for x in clock.split(":"))
        at = time(hour, minute)
    except ValueError as e:
        raise table.error("publish", f"{clock!r} is not a time", hint=hint) from e
    return Publish(WEEKDAYS.index(day), at)


def parse_settings(data: Mapping[str, Any], source: Path) -> Settings:
    """Validate an already-parsed TOML document. Raises `ConfigError`."""
    file = str(source)
    top = Table(data, file, "")

    d = Table(top.take("digest", dict, {}), file, "digest")
    dflt = DigestSettings()
    language = d.text("language", dflt.language)
    if language not in SUPPORTED_LANGUAGES:
        raise d.error(
            "language",
            f"{language!r} is not supported",
            hint="use " + " or ".join(f'"{x}"' for x in SUPPORTED_LANGUAGES),
        )
    timezone = d.text("timezone", dflt.timezone)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise d.error(
            "timezone",
            f"{timezone!r} is not a known time zone",
            hint='use an IANA name such as "Asia/Tokyo"',
        ) from e
    publish = _parse_publish(d, d.text("publish", str(dflt.publish)))
    countries_raw = d.take("countries", list, list(dflt.countries))
    countries: list[str] = []
    for item in countries_raw:
        if not isinstance(item, str):
            raise d.error("countries", f"expected country codes, got {item!r}")
        code = country_code(d, "countries", item)
        if code in countries:
            raise d.error("countries", f"{code} is listed twice")
        countries.append(code)
    places_file = data_file(d, source, "places", bundled.PLACES_FILE)
    topics_file = data_file(d, source, "topics", bundled.TOPICS_FILE)
    entities_file = _entities_file(d, source)
    max_per_section = d.take("max_per_section", int, dflt.max_per_section)
    positive(d, "max_per_section", max_per_section)
    digest = DigestSettings(
        title=d.text("title", dflt.title) or dflt.title,
        language=language,
        timezone=timezone,
        publish=publish,
        countries=tuple(countries),
        max_per_section=max_per_section,
        contact=d.text("contact"),
    )
    d.finish()

    feeds: list[FeedSettings] = []
    seen_urls: set[str] = set()
    for i, item in enumerate(top.take("feeds", list, [])):
        f = Table(item, file, f"feeds[{i}]")
        if "url" not in f.data:
            raise f.error("url", "missing: every [[feeds]] entry needs a url")
        url = http_url(f, "url", f.text("url"))
        if url in seen_urls:
            raise f.error("url", f"{url} is listed twice")
        seen_urls.add(url)
        country = f.text("country")
        local = bool(f.take("local", bool, False))
        feed_filter = f.text("filter").lower()
        if feed_filter and feed_filter not in FEED_FILTERS:
            raise f.error(
                "filter",
                f"{feed_filter!r} is not a known filter",
                hint="use " + " or ".join(f'"{x}"' for x in FEED_FILTERS),
            )
        if local and not country:
            raise f.error(
                "local",
                "needs a country: local news of which country?",
                hint='add country = "KR" (say) to this [[feeds]] entry',
            )
        site = f.text("site")
        feeds.append(
            FeedSettings(
                url=url,
                name=f.text("name"),
                country=country_code(f, "country", country) if country else "",
                language=f.text("language").lower(),
                local=local,
                filter=feed_filter,
                site=http_url(f, "site", site) if site else "",
            )
        )
        f.finish()

    g = Table(top.take("gather", dict, {}), file, "gather")
    gd = GatherSettings()
    gather = GatherSettings(
        timeout=float(g.take("timeout", (int, float), gd.timeout)),
        total_timeout=float(g.take("total_timeout", (int, float), gd.total_timeout)),
        max_bytes=g.take("max_bytes", int, gd.max_bytes),
        max_redirects=g.take("max_redirects", int, gd.max_redirects),
        max_new_items=g.take("max_new_items", int, gd.max_new_items),
        concurrency=g.take("concurrency", int, gd.concurrency),
        per_host=g.take("per_host", int, gd.per_host),
        user_agent=g.text("user_agent", gd.user_agent) or gd.user_agent,
        allow_private=networks(g, "allow_private"),
    )
    for name in ("timeout", "total_timeout", "max_bytes", "max_new_items", "concurrency"):
        positive(g, name, getattr(gather, name))
    if gather.max_redirects < 0:
        raise g.error("max_redirects", "must be 0 or more")
    if gather.per_host < 0:
        raise g.error(
            "per_host", f"must be 0 or more, got {gather.per_host}", hint="0: no limit per host"
        )
    g.finish()

    smtp: SmtpSettings | None = None
    top.known.add("smtp")
    if "smtp" in top.data:
        s = Table(top.take("smtp", dict), file, "smtp")
        if "host" not in s.data:
            raise s.error(
                "host",
                "missing: [smtp] needs a host",
                hint="or remove [smtp] to write messages to the outbox folder",
            )
        if "from" not in s.data:
            raise s.error("from", 'missing: [smtp] needs a from address, e.g. "Digest <d@x.org>"')
        security = s.text("security", "starttls").lower()
        if security not in SECURITY_MODES:
            raise s.error("security", f"{security!r} is not one of {', '.join(SECURITY_MODES)}")
        port = s.take("port", int, DEFAULT_PORTS[security])
        if not 0 < port < 65536:
            raise s.error("port", f"{port} is not a TCP port", hint=PORT_HINT)
        smtp = SmtpSettings(
            host=s.text("host"),
            from_addr=from_address(s, s.text("from")),
            port=port,
            security=security,
            username=s.text("username"),
            timeout=float(s.take("timeout", (int, float), 30.0)),
        )
        positive(s, "timeout", smtp.timeout)
        s.finish()

    st = Table(top.take("storage", dict, {}), file, "storage")
    storage_path = relative_to(source, st.text("path", "var/digest.sqlite3"))
    st.finish()

    a = Table(top.take("archive", dict, {}), file, "archive")
    base_url = a.text("base_url")
    if base_url:
        base_url = http_url(a, "base_url", base_url)
        if not base_url.endswith("/"):
            base_url += "/"
    archive = ArchiveSettings(
        dir=relative_to(source, a.text("dir", "archive")),
        base_url=base_url,
        allow_placeholder_links=bool(a.take("allow_placeholder_links", bool, False)),
    )
    a.finish()

    o = Table(top.take("outbox", dict, {}), file, "outbox")
    outbox_dir = relative_to(source, o.text("dir", "var/outbox"))
    outbox_from = o.text("from")
    o.finish()
    if smtp:
        sender = smtp.from_addr
    elif outbox_from:
        sender = from_address(o, outbox_from)
    else:
        sender = f"{digest.title} <digest@localhost>"

    u = Table(top.take("unsubscribe", dict, {}), file, "unsubscribe")
    unsubscribe_url = u.text("url")
    if unsubscribe_url:
        unsubscribe_url = http_url(u, "url", unsubscribe_url)
    elif base_url:
        unsubscribe_url = base_url + "unsubscribe"
    mailto = u.text("mailto")
    if mailto and "@" not in mailto:
        raise u.error("mailto", f"{mailto!r} is not an email address")
    u.finish()

    al = Table(top.take("aliases", dict, {}), file, "aliases")
    aliases: dict[str, tuple[str, ...]] = {}
    for code_raw in list(al.data):
        code = country_code(al, code_raw, code_raw)
        names = al.take(code_raw, list)
        if not all(isinstance(n, str) and n.strip() for n in names):
            raise al.error(code_raw, "expected a list of non-empty names")
        aliases[code] = tuple(n.strip() for n in names)
    al.finish()

    dkim: DkimSettings | None = None
    top.known.add("dkim")
    if "dkim" in top.data:
        dk = Table(top.take("dkim", dict), file, "dkim")
        domain, selector = dk.text("domain"), dk.text("selector")
        for name, value in (("domain", domain), ("selector", selector)):
            if not value:
                raise dk.error(name, f"missing: [dkim] needs a {name}")
        headers = dk.take("headers", list, list(DKIM_HEADERS))
        if not all(isinstance(h, str) and h.strip() for h in headers):
            raise dk.error("headers", "expected a list of header names")
        if "from" not in {h.strip().lower() for h in headers}:
            raise dk.error("headers", "must include From (RFC 6376)")
        ed25519_selector = dk.text("ed25519_selector")
        if ed25519_selector and ed25519_selector == selector:
            raise dk.error("ed25519_selector", "must differ from selector (one DNS record each)")
        dkim = DkimSettings(
            domain=domain,
            selector=selector,
            headers=tuple(headers),
            ed25519_selector=ed25519_selector,
        )
        dk.finish()

    delivery = _parse_delivery(Table(top.take("delivery", dict, {}), file, "delivery"))
    top.known.add("inbox")
    inbox = None
    if "inbox" in top.data:
        inbox = _parse_inbox(Table(top.take("inbox", dict), file, "inbox"))
    schedule = _parse_schedule(Table(top.take("schedule", dict, {}), file, "schedule"), source)

    web = _parse_web(Table(top.take("web", dict, {}), file, "web"), base_url)

    tp = Table(top.take("templates", dict, {}), file, "templates")
    templates_dir = bundled.TEMPLATES_DIR
    if "dir" in tp.data:
        templates_dir = relative_to(source, tp.text("dir"))
        if not templates_dir.is_dir():
            # Digest's own templates would fill in silently: a typo must not look like success.
            raise tp.error(
                "dir",
                f"{templates_dir} is not a folder",
                hint="name a folder of your templates (any file there replaces digest's own)",
            )
    tp.finish()

    top.finish()
    return Settings(
        source=source,
        digest=digest,
        feeds=tuple(feeds),
        gather=gather,
        smtp=smtp,
        storage_path=storage_path,
        archive=archive,
        outbox_dir=outbox_dir,
        sender=sender,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=mailto or parseaddr(sender)[1],
        aliases=aliases,
        templates_dir=templates_dir,
        places_file=places_file,
        topics_file=topics_file,
        entities_file=entities_file,
        dkim=dkim,
        delivery=delivery,
        inbox=inbox,
        schedule=schedule,
        web=web,
    )


def _parse_web(t: Table, base_url: str) -> WebSettings:
    dflt = WebSettings()
    url = t.text("url")
    url = http_url(t, "url", url) if url else base_url
    if url and not url.endswith("/"):
        url += "/"
    limits = {}
    for name in ("ip_limit", "address_limit"):
        value = t.text(name, getattr(dflt, name))
        if value == getattr(dflt, name):
            # The defaults parse (tests/test_startup.py); importing `limits` costs
            # about 40 ms, which every command reading the config would pay.
            limits[name] = value
            continue
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as e:
            raise t.error(
                name, f"{value!r} is not a rate limit", hint='write e.g. "5/minute;30/hour"'
            ) from e
        limits[name] = value
    base_path = t.text("base_path").rstrip("/")
    if base_path and (not base_path.startswith("/") or any(c in base_path for c in "?#\\ ")):
        raise t.error("base_path", f"{base_path!r} is not a URL path", hint='e.g. "/digest"')
    proxies = t.take("trusted_proxies", list, [])
    if not all(isinstance(p, str) and p.strip() for p in proxies):
        raise t.error("trusted_proxies", 'expected a list of addresses, or ["*"]')
    web = WebSettings(
        url=url,
        confirm_within=duration(t, "confirm_within", dflt.confirm_within),
        ip_limit=limits["ip_limit"],
        address_limit=limits["address_limit"],
        archive=bool(t.take("archive", bool, dflt.archive)),
        base_path=base_path,
        trusted_proxies=tuple(p.strip() for p in proxies),
    )
    t.finish()
    if web.confirm_within < timedelta(minutes=10):
        raise t.error("confirm_within", "at least 10m: mail can take minutes to arrive")
    return web


def _parse_inbox(t: Table) -> InboxSettings:
    for name in ("host", "username"):
        if not t.data.get(name):
            raise t.error(
                name,
                f"missing: [inbox] needs a {name}",
                hint="or remove [inbox] and give `digest inbox` a Maildir, an mbox or -",
            )
    port = t.take("port", int, 993)
    if not 0 < port < 65536:
        raise t.error(
            "port", f"{port} is not a TCP port", hint="a port is 1 to 65535; IMAP over TLS is 993"
        )
    inbox = InboxSettings(
        host=t.text("host"),
        username=t.text("username"),
        port=port,
        folder=t.text("folder", "INBOX") or "INBOX",
        timeout=float(t.take("timeout", (int, float), 30.0)),
    )
    positive(t, "timeout", inbox.timeout)
    if not inbox.folder.isascii():
        raise t.error(
            "folder",
            f"{inbox.folder!r} is not an IMAP folder name",
            hint="write its IMAP name (modified UTF-7, as the mail server lists it), e.g. "
            '"INBOX.&ZeVnLIqe-" for 日本語',
        )
    t.finish()
    return inbox


def _parse_delivery(t: Table) -> DeliverySettings:
    dflt = DeliverySettings()
    delivery = DeliverySettings(
        connections=t.take("connections", int, dflt.connections),
        max_per_second=float(t.take("max_per_second", (int, float), dflt.max_per_second)),
        max_per_connection=t.take("max_per_connection", int, dflt.max_per_connection),
        max_per_hour=t.take("max_per_hour", int, dflt.max_per_hour),
        max_attempts=t.take("max_attempts", int, dflt.max_attempts),
        retry_after=duration(t, "retry_after", dflt.retry_after),
        max_retry_after=duration(t, "max_retry_after", dflt.max_retry_after),
        bounce_after=t.take("bounce_after", int, dflt.bounce_after),
    )
    for name in ("connections", "max_attempts", "bounce_after"):
        positive(t, name, getattr(delivery, name))
    for name in ("max_per_second", "max_per_connection", "max_per_hour"):
        if getattr(delivery, name) < 0:
            raise t.error(name, "must be 0 (no limit) or more")
    if delivery.connections > 64:
        raise t.error("connections", "at most 64", hint="relays throttle many parallel sessions")
    t.finish()
    return delivery


def _parse_schedule(t: Table, source: Path) -> ScheduleSettings:
    dflt = ScheduleSettings()
    empty_week = t.text("empty_week", dflt.empty_week).lower()
    if empty_week not in EMPTY_WEEK_MODES:
        raise t.error(
            "empty_week",
            f"{empty_week!r} is not one of {', '.join(EMPTY_WEEK_MODES)}",
            hint='"skip" sends nothing; "quiet" sends a short quiet-week note',
        )
    schedule = ScheduleSettings(
        gather_every=duration(t, "gather_every", dflt.gather_every),
        jitter=duration(t, "jitter", dflt.jitter),
        lateness=duration(t, "lateness", dflt.lateness),
        lookback=duration(t, "lookback", dflt.lookback),
        empty_week=empty_week,
        reports_dir=relative_to(source, t.text("reports_dir", str(dflt.reports_dir))),
    )
    if schedule.gather_every < timedelta(minutes=1):
        raise t.error("gather_every", "must be at least 1m", hint="feeds are not chat rooms")
    t.finish()
    return schedule
