"""A small real world for ledger tests: a config file pointing at an SMTP sink on
127.0.0.1, a real SQLite file holding one week of posts and N subscribers, and the
CLI run in-process (`cli`) or as a real process (`cli_process`).

No feed is fetched: the posts are stored directly, so these tests depend on no
HTTP server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import main
from digest.config import Settings, load_settings
from digest.models import Post
from digest.state.store import Store

WEEK = "2026-W47"  # publish mon 08:00 Asia/Tokyo: window 2026-11-15T23:00Z → 11-22T23:00Z
T0 = datetime(2026, 11, 20, tzinfo=UTC)
SECRET = "test-secret-0123456789-abcdefghij"


@dataclass
class World:
    config: Path
    settings: Settings
    emails: list[str]

    def rows(self) -> dict[str, str]:
        with Store(self.settings.storage_path) as store:
            return {r.email: r.status for r in store.delivery_rows(WEEK)}

    def store(self) -> Store:
        return Store(self.settings.storage_path)


def posts() -> list[Post]:
    base = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
    titles = [
        "Samsung opens AI chip lab in Pangyo, Korea",
        "Naver cuts prices of its Korean AI models",
        "Kakao launches an AI agent for Korean banks",
    ]
    return [
        Post(
            feed_url="https://feeds.example.com/kr.xml",
            post_id=f"p{i}",
            url=f"https://kr.example.com/{i}",
            title=title,
            summary=f"{title}.",
            published=base + timedelta(hours=i),
            first_seen=base + timedelta(hours=i, minutes=5),
        )
        for i, title in enumerate(titles)
    ]


def make_world(
    tmp_path: Path,
    port: int,
    readers: int,
    *,
    delivery: str = "connections = 1",
    smtp_extra: str = "",
    name: str = "w",
    feed_url: str = "https://feeds.example.com/kr.xml",
) -> World:
    """`feed_url`: what `gather` (in `run`) fetches; only a loopback one is ever
    fetched (the stored posts name the example.com feed, never fetched)."""
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "digest.toml"
    config.write_text(
        '[digest]\ntitle = "Asia AI Weekly"\nlanguage = "en"\n'
        f'[[feeds]]\nurl = "{feed_url}"\nname = "KR AI"\ncountry = "KR"\n'
        '[gather]\nallow_private = ["127.0.0.1/32"]\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f'from = "Asia AI Weekly <digest@example.com>"\n{smtp_extra}\n'
        f"[delivery]\n{delivery}\n"
        f'[storage]\npath = "{folder.as_posix()}/db.sqlite3"\n'
        f'[archive]\ndir = "{folder.as_posix()}/archive"\nbase_url = "https://digest.example.com/"\n'
        "allow_placeholder_links = true\n"  # the example domain: see digest.run.links
        f'[schedule]\nreports_dir = "{folder.as_posix()}/reports"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    emails = [f"r{n:03d}@example.com" for n in range(readers)]
    with Store(settings.storage_path) as store:
        store.add_posts(posts())
        for email in emails:
            store.add_subscriber(email, "", T0)
    return World(config, settings, emails)


def cli(world: World, *args: str) -> int:
    return main(["--config", str(world.config), *args])


def send(world: World, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`digest send --week W` in this process: (exit code, stdout, stderr)."""
    code = cli(world, "send", "--week", WEEK)
    out, err = capsys.readouterr()
    return code, out, err


def counts_line(out: str) -> str:
    """The summary's counts, without the rate part (which varies)."""
    for line in out.splitlines():
        if line.startswith(f"{WEEK}: sent "):
            return line.split(" (", 1)[0]
    raise AssertionError(f"no summary line in:\n{out}")


def cli_process(world: World, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DIGEST_SECRET": SECRET}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(world.config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
