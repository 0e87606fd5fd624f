"""The settings loader: defaults, validation that names key and file, secrets."""

from __future__ import annotations

import shlex
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from digest.config import (
    DEFAULT_COUNTRIES,
    Publish,
    config_path,
    load_settings,
    parse_settings,
)
from digest.credentials import load_secrets
from digest.errors import ConfigError, SecretMissing

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "digest.toml"


def load_text(tmp_path: Path, text: str) -> object:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_shipped_example_config_loads() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.digest.language == "ja"
    assert settings.digest.countries == DEFAULT_COUNTRIES
    assert settings.feeds and all(f.url.startswith("https://") for f in settings.feeds)


def test_defaults_from_an_empty_file(tmp_path: Path) -> None:
    s = parse_settings({}, tmp_path / "x.toml")
    assert s.digest.title == "アジアAIハブ週報"
    assert s.digest.timezone == "Asia/Tokyo"
    assert s.digest.publish == Publish(0, time(8, 0))
    assert s.smtp is None
    assert s.storage_path == tmp_path / "var/digest.sqlite3"
    assert s.archive.dir == tmp_path / "archive"
    assert s.unsubscribe_url == ""


def test_issue_example_shape_is_accepted(tmp_path: Path) -> None:
    s = load_text(
        tmp_path,
        """
[digest]
title = "アジアAIハブ週報"
language = "ja"
timezone = "Asia/Tokyo"
publish = "mon 08:00"
countries = ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE"]

[[feeds]]
url = "https://example.com/ai/rss.xml"
name = "Example AI news"
country = "KR"

[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"
username = "digest"
from = "アジアAIハブ週報 <digest@example.com>"

[storage]
path = "var/digest.sqlite3"

[archive]
dir = "archive"
base_url = "https://digest.example.com/"
""",
    )
    assert s.smtp is not None and s.smtp.port == 587 and s.smtp.username == "digest"  # type: ignore[attr-defined]
    assert s.unsubscribe_url == "https://digest.example.com/unsubscribe"  # type: ignore[attr-defined]
    assert s.unsubscribe_mailto == "digest@example.com"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[digest]\ntitel = "x"\n', "digest.titel", "did you mean `title`"),
        ('[digest]\nlanguage = "fr"\n', "digest.language", "not supported"),
        ('[digest]\ntimezone = "Asia/Nowhere"\n', "digest.timezone", "time zone"),
        ('[digest]\npublish = "someday 08:00"\n', "digest.publish", "weekday"),
        ('[digest]\npublish = "mon 25:00"\n', "digest.publish", "not a time"),
        ('[digest]\ncountries = ["KR", "XY"]\n', "digest.countries", "ISO 3166"),
        ('[digest]\ncountries = ["KR", "kr"]\n', "digest.countries", "twice"),
        ("[digest]\nmax_per_section = 0\n", "digest.max_per_section", "greater than 0"),
        ('[[feeds]]\nname = "no url"\n', "feeds[0].url", "missing"),
        ('[[feeds]]\nurl = "file:///etc/passwd"\n', "feeds[0].url", "http(s)"),
        (
            '[[feeds]]\nurl = "https://a.example/f"\ncountry = "Korea"\n',
            "feeds[0].country",
            "ISO 3166",
        ),
        (
            '[[feeds]]\nurl = "https://a.example/f"\n[[feeds]]\nurl = "https://a.example/f"\n',
            "feeds[1].url",
            "twice",
        ),
        (
            '[smtp]\nhost = "h"\nfrom = "d@example.com"\nsecurity = "tls"\n',
            "smtp.security",
            "starttls",
        ),
        ('[smtp]\nhost = "h"\nfrom = "d@example.com"\nport = 70000\n', "smtp.port", "TCP port"),
        (
            '[smtp]\nhost = "h"\nfrom = "d@example.com"\nport = "587"\n',
            "smtp.port",
            "expected an integer",
        ),
        ('[smtp]\nhost = "h"\n', "smtp.from", "missing"),
        ('[smtp]\nhost = "h"\nfrom = "nobody"\n', "smtp.from", "no email address"),
        ('[archive]\nbase_url = "ftp://x"\n', "archive.base_url", "http(s)"),
        ("[gather]\ntimeout = -1\n", "gather.timeout", "greater than 0"),
        ("[gather]\nper_host = -1\n", "gather.per_host", "0 or more, got -1"),
        ('[aliases]\nZZZ = ["x"]\n', "aliases.ZZZ", "ISO 3166"),
        ('[storage]\npath = "a"\nfile = "b"\n', "storage.file", "unknown key"),
        ('[smpt]\nhost = "h"\n', "smpt", "did you mean `smtp`"),
        (
            '[[feeds]]\nurl = "https://a.example/f"\nlocal = true\n',
            "feeds[0].local",
            "needs a country",
        ),
        (
            '[[feeds]]\nurl = "https://a.example/f"\ncountry = "HK"\nlocal = "yes"\n',
            "feeds[0].local",
            "true or false",
        ),
        ('[digest]\nplaces = "nowhere.toml"\n', "digest.places", "is not a file"),
        ('[dkim]\ndomain = "example.com"\n', "dkim.selector", "missing"),
        ('[dkim]\nselector = "s"\n', "dkim.domain", "missing"),
        (
            '[dkim]\ndomain = "d.example"\nselector = "s"\nheaders = ["To"]\n',
            "dkim.headers",
            "must include From",
        ),
        ('[dkim]\ndomain = "d.example"\nselector = "s"\nkey = "x"\n', "dkim.key", "unknown key"),
        (
            '[[feeds]]\nurl = "https://a.example/f"\nfilter = "sport"\n',
            "feeds[0].filter",
            "not a known filter",
        ),
        ("[delivery]\nconnections = 0\n", "delivery.connections", "greater than 0"),
        ("[delivery]\nconections = 2\n", "delivery.conections", "did you mean `connections`"),
        ('[delivery]\nretry_after = "soon"\n', "delivery.retry_after", "not a duration"),
        ("[delivery]\nretry_after = 5\n", "delivery.retry_after", "expected a string"),
        ("[delivery]\nmax_per_hour = -1\n", "delivery.max_per_hour", "0 (no limit) or more"),
        ('[schedule]\nempty_week = "blank"\n', "schedule.empty_week", "skip, quiet"),
        ('[schedule]\nlateness = "12 hours"\n', "schedule.lateness", "not a duration"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert str(tmp_path / "digest.toml") in message
    assert info.value.key == key
    assert fragment in message


def test_durations() -> None:
    from datetime import timedelta

    from digest.config import parse_duration

    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("0s") == timedelta(0)
    for bad in ("", "12", "h", "5 parsecs", "-1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_text(tmp_path, "[digest\n")
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_base_url_gets_a_trailing_slash(tmp_path: Path) -> None:
    s = load_text(tmp_path, '[archive]\nbase_url = "https://d.example/weekly"\n')
    assert s.archive.base_url == "https://d.example/weekly/"  # type: ignore[attr-defined]


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    assert config_path(None) == Path("digest.toml")  # none exists: the name `digest init` writes
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "digest.toml").write_text("")
    assert config_path(None) == Path("config/digest.toml")  # a source checkout's example
    (tmp_path / "digest.toml").write_text("")
    assert config_path(None) == Path("digest.toml")  # what `digest init .` wrote wins
    monkeypatch.setenv("DIGEST_CONFIG", "/etc/digest.toml")
    assert config_path(None) == Path("/etc/digest.toml")
    assert config_path("mine.toml") == Path("mine.toml")


def test_secret_missing_is_explained_and_never_defaulted(tmp_path: Path) -> None:
    secrets = load_secrets(tmp_path / "absent.env")
    assert secrets.signing_key is None
    with pytest.raises(SecretMissing, match="DIGEST_SECRET is not set"):
        secrets.require_signing_key()


def test_secret_hint_is_a_command_that_works(tmp_path: Path) -> None:
    # The hint is run by a shell, as a user would paste it: the value it appends
    # is random, and digest then reads it.
    folder = tmp_path / "my digest"
    folder.mkdir()
    env = folder / ".env"
    with pytest.raises(SecretMissing) as missing:
        load_secrets(env).require_signing_key()
    hint = missing.value.hint or ""
    command = hint.split(": ", 1)[1].replace("python3", shlex.quote(sys.executable), 1)
    keys = set()
    for _ in range(2):
        env.unlink(missing_ok=True)
        subprocess.run(["sh", "-c", command], check=True)
        key = load_secrets(env).require_signing_key()
        assert len(key) >= 40 and b"secrets" not in key
        keys.add(key)
    assert len(keys) == 2  # generated where it is run, not written into the hint


def test_secret_that_is_an_unexpanded_command_is_refused(tmp_path: Path) -> None:
    # What an older hint suggested: a .env file runs no command, so every install
    # that copied it would share this very text as its secret.
    env = tmp_path / ".env"
    env.write_text(
        'DIGEST_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe(32))")\n'
    )
    with pytest.raises(SecretMissing, match="holds a shell command") as refused:
        load_secrets(env)
    assert str(env) in (refused.value.hint or "")


def test_secrets_come_from_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("DIGEST_SECRET=from-dotenv-0123456789\nDIGEST_SMTP_PASSWORD=pw\n")
    secrets = load_secrets(env)
    assert secrets.require_signing_key() == b"from-dotenv-0123456789"
    assert secrets.smtp_password == "pw"
    monkeypatch.setenv("DIGEST_SECRET", "short")
    with pytest.raises(SecretMissing, match="too short"):
        load_secrets(env)


def test_places_file_beside_the_config_wins(tmp_path: Path) -> None:
    default = parse_settings({}, tmp_path / "digest.toml")
    assert default.places_file.name == "places.toml" and default.places_file.is_file()
    (tmp_path / "places.toml").write_text("[KR]\nnames = []\n")
    assert parse_settings({}, tmp_path / "digest.toml").places_file == tmp_path / "places.toml"
    (tmp_path / "mine.toml").write_text("[KR]\nnames = []\n")
    chosen = parse_settings({"digest": {"places": "mine.toml"}}, tmp_path / "digest.toml")
    assert chosen.places_file == tmp_path / "mine.toml"


def test_dkim_key_comes_from_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = load_secrets(tmp_path / "absent.env")
    with pytest.raises(SecretMissing, match="DIGEST_DKIM_PRIVATE_KEY"):
        empty.require_dkim_key()
    monkeypatch.setenv("DIGEST_DKIM_PRIVATE_KEY", "-----BEGIN X-----\\nabc\\n-----END X-----")
    assert load_secrets(tmp_path / "absent.env").require_dkim_key() == (
        b"-----BEGIN X-----\nabc\n-----END X-----"
    )
    monkeypatch.delenv("DIGEST_DKIM_PRIVATE_KEY")
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(b"PEM")
    monkeypatch.setenv("DIGEST_DKIM_KEY_FILE", str(key_file))
    assert load_secrets(tmp_path / "absent.env").require_dkim_key() == b"PEM"
    monkeypatch.setenv("DIGEST_DKIM_KEY_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(SecretMissing, match="cannot read the DKIM key"):
        load_secrets(tmp_path / "absent.env")


# --- paths follow the config file, not the working directory ------------------------------


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "srv" / "digest"
    (folder / "mine").mkdir(parents=True)
    s = parse_settings(
        {
            "storage": {"path": "state/db.sqlite3"},
            "archive": {"dir": "../public"},
            "outbox": {"dir": "out"},
            "schedule": {"reports_dir": "/var/log/digest"},
            "templates": {"dir": "mine"},
        },
        folder / "digest.toml",
    )
    assert s.storage_path == folder / "state/db.sqlite3"
    assert s.archive.dir == folder / "../public"
    assert s.outbox_dir == folder / "out"
    assert s.schedule.reports_dir == Path("/var/log/digest")  # absolute stays absolute
    assert s.templates_dir == folder / "mine"
    home = parse_settings({"storage": {"path": "~/db.sqlite3"}}, folder / "digest.toml")
    assert home.storage_path == Path.home() / "db.sqlite3"


def test_cli_from_elsewhere_uses_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.cli import main

    folder, elsewhere = tmp_path / "srv", tmp_path / "home"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "digest.toml").write_text('[digest]\ntitle = "T"\n', encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    assert (
        main(["--config", str(folder / "digest.toml"), "subscribers", "add", "a@example.com"]) == 0
    )
    assert (folder / "var" / "digest.sqlite3").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing appears where cron happens to run


def test_state_left_at_the_old_relative_place_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before 0.2, `path = "var/digest.sqlite3"` in config/digest.toml meant ./var/…:
    reading it as config/var/… would silently start an empty database."""
    from digest.config import check_moved_paths

    (tmp_path / "config").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "digest.sqlite3").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    config = Path("config/digest.toml")
    config.write_text('[storage]\npath = "var/digest.sqlite3"\n', encoding="utf-8")
    settings = load_settings(config)
    with pytest.raises(ConfigError, match=r"storage\.path") as info:
        check_moved_paths(settings, Path.cwd())
    assert 'path = "../var/digest.sqlite3"' in str(info.value)
    # Once fixed as the hint says, or run from the config's folder, it is accepted.
    config.write_text('[storage]\npath = "../var/digest.sqlite3"\n', encoding="utf-8")
    check_moved_paths(load_settings(config), Path.cwd())
    check_moved_paths(settings, tmp_path / "config")


def test_a_new_config_elsewhere_is_never_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a folder with an old install's state, a config elsewhere is a new one."""
    from digest.config import check_moved_paths

    old, new = tmp_path / "old", tmp_path / "new"
    (old / "var").mkdir(parents=True)
    (old / "var" / "digest.sqlite3").write_bytes(b"")
    (old / "archive").mkdir()
    (old / "archive" / "index.html").write_text("")
    new.mkdir()
    (new / "digest.toml").write_text("")
    check_moved_paths(load_settings(new / "digest.toml"), old)
    # Below the current folder but holding nothing at the old place: a new install too.
    (old / "site").mkdir()
    (old / "site" / "digest.toml").write_text(
        '[storage]\npath = "var/other.sqlite3"\n[archive]\ndir = "public"\n'
    )
    check_moved_paths(load_settings(old / "site" / "digest.toml"), old)


def test_dotenv_beside_the_config_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.credentials import env_file_for

    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    folder, here = tmp_path / "srv", tmp_path / "here"
    folder.mkdir()
    here.mkdir()
    monkeypatch.chdir(here)
    (here / ".env").write_text("DIGEST_SECRET=from-the-working-folder-0123\n")
    config = folder / "digest.toml"
    # No .env beside the config: the working folder's, as before 0.2.
    assert load_secrets(env_file_for(config)).signing_key == b"from-the-working-folder-0123"
    (folder / ".env").write_text(
        "DIGEST_SECRET=from-beside-the-config-0123\nDIGEST_DKIM_KEY_FILE=keys/dkim.pem\n"
    )
    (folder / "keys").mkdir()
    (folder / "keys" / "dkim.pem").write_bytes(b"PEM")
    secrets = load_secrets(env_file_for(config))
    assert secrets.signing_key == b"from-beside-the-config-0123"
    assert secrets.dkim_key == b"PEM"  # a relative key file is relative to the .env


def test_a_templates_dir_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"templates\.dir: .*mine is not a folder"):
        parse_settings({"templates": {"dir": "mine"}}, tmp_path / "digest.toml")


def test_parse_settings_stays_pure_and_load_settings_checks_paths(tmp_path: Path) -> None:
    """Path checks look at the disk, so they live in `load_settings` (the CLI's
    way in); `parse_settings` judges the text only, and neither creates anything."""
    from digest.config import parse_settings

    (tmp_path / "blocker").write_text("x")
    data = {"archive": {"dir": "blocker/archive"}}
    settings = parse_settings(data, source=tmp_path / "digest.toml")
    assert settings.archive.dir == tmp_path / "blocker/archive"
    path = tmp_path / "digest.toml"
    path.write_text('[archive]\ndir = "blocker/archive"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"archive\.dir: .* cannot be created: .* is a file"):
        load_settings(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "digest.toml"]
