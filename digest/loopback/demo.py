"""`digest demo`: the whole pipeline, offline, on loopback.

Owns: setting up a throw-away world for a first look: the sample feeds that
ship with digest (fictional items in Korean, Japanese, Chinese and English,
dated in week 2026-W46) served over real HTTP on 127.0.0.1, one deliberately
broken feed, a real SMTP server (aiosmtpd) on 127.0.0.1, a config file, a
SQLite database and three subscribers, all inside one folder. Then it runs the
real commands' code paths (gather, build, send) and prints where everything is.
With `--serve`, it then keeps the SMTP server up and runs `digest serve`'s
pages on 127.0.0.1 until Ctrl-C, so a first look covers signing up, confirming
(the mails land in `received/`), choosing countries and leaving.
Doesn't own: any pipeline logic, or the pages (`digest.web`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from digest.config import Settings, load_settings
from digest.credentials import ENV_SECRET, Secrets, env_file_for, load_secrets
from digest.errors import DigestError
from digest.fetch.gather import gather
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import SmtpSink
from digest.run.pipeline import send
from digest.state.store import Store

SAMPLE_FEEDS = Path(__file__).with_name("sample_feeds")
DEMO_WEEK = "2026-W46"  # the week the sample items are dated in
DEMO_SUBSCRIBERS = (
    ("editor@example.com", "Editor"),
    ("analyst@example.org", "アナリスト"),
    ("reader@example.net", ""),
)
FEED_KEYS: dict[str, dict[str, object]] = {  # file → extra [[feeds]] keys, as a user writes them
    "korea-ai-ko.xml": {"country": "KR", "local": True, "language": "ko"},
    "japan-ai-ja.xml": {"country": "JP", "local": True, "language": "ja"},
    "china-ai-zh.xml": {"country": "CN", "local": True, "language": "zh"},
    "greater-bay-zh-hant.xml": {"language": "zh-hant"},
    "asia-tech-en.xml": {"language": "en", "filter": "ai"},  # a general feed: AI stories only
}

CONFIG_TEMPLATE = """\
# Written by `digest demo`: a real config file, pointing at loopback servers.
[digest]
title = "アジアAIハブ週報（デモ）"
language = "ja"
timezone = "Asia/Tokyo"
publish = "mon 08:00"
contact = "editor@example.com"

{feeds}
[gather]
# The demo's feeds are served on 127.0.0.1; digest refuses to fetch from
# loopback or private addresses unless their network is listed here.
allow_private = ["127.0.0.1"]

[smtp]
host = "{smtp_host}"
port = {smtp_port}
security = "none"
from = "アジアAIハブ週報 <digest@example.com>"

[storage]
path = "{folder}/digest.sqlite3"

[archive]
dir = "{folder}/archive"
base_url = "https://digest.example.com/"
# The demo mails only its own SMTP server on 127.0.0.1, so its links may stay
# placeholders; a real install is refused them (README: [archive] base_url).
allow_placeholder_links = true
{web}"""

# With --serve: the links in the readers' mails lead to the demo's own pages.
WEB_TEMPLATE = """
[web]
url = "http://127.0.0.1:{port}/"
"""


def _free_port() -> int:
    """A port free on 127.0.0.1 now: the config must name it before the server
    starts (the mails' links), and the demo is the only one to take it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _feed_block(url: str, keys: dict[str, object]) -> str:
    lines = ["[[feeds]]", f'url = "{url}"']
    for key, value in keys.items():
        lines.append(f"{key} = " + ("true" if value is True else f'"{value}"'))
    return "\n".join(lines) + "\n"


def run_demo(folder: Path, *, serve: bool = False, port: int = 0) -> int:
    """Run the demo in `folder` (emptied first); with `serve`, then serve the
    readers' pages on 127.0.0.1:`port` (0: a free one) until Ctrl-C."""
    folder = folder.resolve()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    received_dir = folder / "received"
    if not os.environ.get(ENV_SECRET):
        # Only for this process: the demo must run on a fresh clone with no .env.
        os.environ[ENV_SECRET] = secrets.token_urlsafe(32)
        print(f"{ENV_SECRET} is not set: the demo made a random one for this run only.")

    web_port = (port or _free_port()) if serve else 0
    with FeedServer() as feeds, SmtpSink(received_dir) as sink:
        blocks = []
        for url in feeds.serve_directory(SAMPLE_FEEDS):
            blocks.append(_feed_block(url, FEED_KEYS.get(url.rsplit("/", 1)[-1], {})))
        feeds["/gone.xml"] = Route(b"Not Found", status=404, content_type="text/plain")
        blocks.append(_feed_block(feeds.url("/gone.xml"), {"name": "A feed that went away"}))
        config = folder / "digest.toml"
        config.write_text(
            CONFIG_TEMPLATE.format(
                feeds="\n".join(blocks),
                smtp_host=sink.host,
                smtp_port=sink.port,
                folder=folder.as_posix(),
                web=WEB_TEMPLATE.format(port=web_port) if serve else "",
            ),
            encoding="utf-8",
        )
        settings = load_settings(config)

        def clock() -> datetime:
            return datetime.now(UTC)

        keys = load_secrets(env_file_for(config))
        with Store(settings.storage_path) as store:
            for email, name in DEMO_SUBSCRIBERS:
                store.add_subscriber(email, name, clock())
            print(f"== gather ({len(settings.feeds)} feeds on {feeds.base_url})")
            report = gather(settings, store, clock())
            for line in report.summary_lines():
                print("  " + line)
            print(f"== build + send {DEMO_WEEK}")
            built, delivery = send(settings, keys, store, DEMO_WEEK, clock)
            if built is None:  # the sample feeds are dated in DEMO_WEEK: never, unless edited
                raise DigestError(f"the demo's week {DEMO_WEEK} has no stories")
            for line in delivery.summary_lines():
                print("  " + line)
            _, again = send(settings, keys, store, DEMO_WEEK, clock)
            print(f"  a second send of {DEMO_WEEK} sent {again.sent} (each reader gets it once)")
        issue = built.issue
        print(
            f"== issue {issue.week} (#{issue.number}): {issue.story_count} stories, "
            f"{issue.duplicates_merged} duplicates merged, sections: "
            + ", ".join(f"{s.name} {len(s.stories)}" for s in issue.sections)
        )
        print(
            f"  HTML part {len(built.rendered.html_email.encode()):,} bytes, "
            f"built in {built.seconds:.2f} s"
        )
        print("== where things are")
        print(f"  config:   {config}")
        print(f"  archive:  {settings.archive.dir / 'index.html'}")
        print(f"  issue:    {built.path}")
        print(f"  received: {received_dir} ({len(sink.received)} messages as .eml)")
        if serve:
            _serve_pages(settings, keys, web_port, received_dir)
    return 0


def _serve_pages(settings: Settings, keys: Secrets, port: int, received_dir: Path) -> None:
    from digest.web.server import serve

    def ready(url: str) -> None:
        print("== readers' pages (digest serve)")
        print(f"  open {url}subscribe to sign up, {url} for the archive;")
        print(f"  the confirmation and welcome mails land in {received_dir}")
        print("  Ctrl-C stops", flush=True)

    serve(settings, keys, host="127.0.0.1", port=port, ready=ready)
    print("digest demo: stopped", file=sys.stderr)
