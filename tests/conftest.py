"""Shared fixtures: real loopback servers, real SQLite files, real config files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digest.config import Settings, load_settings
from digest.loopback.feedserver import FeedServer
from digest.loopback.mailsink import SmtpSink

TEST_SECRET = "test-secret-0123456789-abcdefghij"
# Feeds in tests are served on loopback: `[gather] allow_private` must say so.
LOOPBACK_ALLOWED = 'allow_private = ["127.0.0.0/8", "::1"]'
# Tests mail links on digest.example.com, which send/run/daemon refuse for real
# installs (digest.run.links); a test that checks the refusal writes the key itself.
PLACEHOLDERS_ALLOWED = "allow_placeholder_links = true"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's .env or DIGEST_* variables."""
    for name in (
        "DIGEST_SECRET",
        "DIGEST_SMTP_PASSWORD",
        "DIGEST_CONFIG",
        "DIGEST_DKIM_PRIVATE_KEY",
        "DIGEST_DKIM_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    return TEST_SECRET


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., tuple[Path, Settings]]:
    """Write a config file under tmp_path from TOML text; return its path and settings."""

    def write(text: str, name: str = "digest.toml") -> tuple[Path, Settings]:
        path = tmp_path / name
        base = (
            f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
            f'[archive]\ndir = "{tmp_path.as_posix()}/archive"\n'
            'base_url = "https://digest.example.com/"\n'
        )
        # Let a test override [storage] or [archive] by giving its own tables.
        if "[storage]" in text or "[archive]" in text:
            base = ""
        # Tests serve feeds on 127.0.0.1, which digest refuses unless allowed; a
        # [gather] table the test wrote gets the key, else one is added. The same
        # for links on example.com, in [archive].
        for table, key, line in (
            ("gather", "allow_private", LOOPBACK_ALLOWED),
            ("archive", "allow_placeholder_links", PLACEHOLDERS_ALLOWED),
        ):
            if key in text:
                continue
            header = re.compile(rf"^\[{table}\][ \t]*$", flags=re.MULTILINE)
            if header.search(text):
                text = header.sub(f"[{table}]\n{line}", text, count=1)
            elif header.search(base):
                base = header.sub(f"[{table}]\n{line}", base, count=1)
            else:
                base += f"[{table}]\n{line}\n"
        path.write_text(text + "\n" + base, encoding="utf-8")
        return path, load_settings(path)

    return write
