"""Bad config files, as a clumsy operator or an attacker would write them.

Each one goes through `digest.cli.main` (the real front door) and must stop
digest with exit code 2 and exactly one `digest: error: <file>: <key>: ...`
line naming the key, before anything is written: no database, no archive.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from digest.cli import main

OK_FEED = '[[feeds]]\nurl = "https://example.com/feed.xml"\n'

# (id, TOML text, the expected line after "digest: error: <file>: ")
CASES = [
    (
        "title-crlf",
        '[digest]\ntitle = "Weekly\\r\\nBcc: all@example.com"\n',
        "digest.title: contains a line break (U+000D)",
    ),
    (
        "title-lf",
        '[digest]\ntitle = "Weekly\\nX-Evil: 1"\n',
        "digest.title: contains a line break (U+000A)",
    ),
    (
        "title-nul",
        '[digest]\ntitle = "Week\\u0000ly"\n',
        "digest.title: contains a control character (U+0000)",
    ),
    (
        "title-rlo",
        '[digest]\ntitle = "Weekly \\u202Egnp.exe"\n',
        "digest.title: contains a bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE)",
    ),
    (
        "title-lri",
        '[digest]\ntitle = "A\\u2066B"\n',
        "digest.title: contains a bidirectional control (U+2066 LEFT-TO-RIGHT ISOLATE)",
    ),
    (
        "title-lrm",
        '[digest]\ntitle = "A\\u200EB"\n',
        "digest.title: contains a bidirectional control (U+200E LEFT-TO-RIGHT MARK)",
    ),
    ("title-ls", '[digest]\ntitle = "A\\u2028B"\n', "digest.title: contains a line break (U+2028)"),
    (
        "title-nel",
        '[digest]\ntitle = "A\\u0085B"\n',
        "digest.title: contains a line break (U+0085)",
    ),
    (
        "contact-c1",
        '[digest]\ncontact = "ed\\u009Bitor@example.com"\n',
        "digest.contact: contains a control character (U+009B)",
    ),
    (
        "contact-tab",
        '[digest]\ncontact = "editor\\t@example.com"\n',
        "digest.contact: contains a control character (U+0009)",
    ),
    (
        "feed-name-rlo",
        OK_FEED + 'name = "News\\u202Eevil"\n',
        "feeds[0].name: contains a bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE)",
    ),
    (
        "feed-name-esc",
        OK_FEED + 'name = "News\\u001B[31m"\n',
        "feeds[0].name: contains a control character (U+001B)",
    ),
    (
        "feed-url-lf",
        '[[feeds]]\nurl = "https://example.com/a\\nb"\n',
        "feeds[0].url: contains a line break (U+000A)",
    ),
    (
        "smtp-from-crlf",
        '[smtp]\nhost = "127.0.0.1"\nfrom = "D <d@example.com>\\r\\nBcc: x@example.com"\n',
        "smtp.from: contains a line break (U+000D)",
    ),
    (
        "smtp-from-pdi",
        '[smtp]\nhost = "127.0.0.1"\nfrom = "D\\u2069 <d@example.com>"\n',
        "smtp.from: contains a bidirectional control (U+2069 POP DIRECTIONAL ISOLATE)",
    ),
    (
        "outbox-from-nul",
        '[outbox]\nfrom = "D <d@example.com>\\u0000"\n',
        "outbox.from: contains a control character (U+0000)",
    ),
    (
        "user-agent-crlf",
        '[gather]\nuser_agent = "digest\\r\\nX-Forwarded-For: 10.0.0.1"\n',
        "gather.user_agent: contains a line break (U+000D)",
    ),
    (
        "mailto-lf",
        '[unsubscribe]\nmailto = "u@example.com\\nBcc: x@example.com"\n',
        "unsubscribe.mailto: contains a line break (U+000A)",
    ),
    (
        "unsub-url-del",
        '[unsubscribe]\nurl = "https://example.com/u\\u007F"\n',
        "unsubscribe.url: contains a control character (U+007F)",
    ),
    (
        "alias-rlo",
        '[aliases]\nKR = ["Seoul", "\\u202Bx"]\n',
        "aliases.KR: contains a bidirectional control (U+202B RIGHT-TO-LEFT EMBEDDING)",
    ),
    (
        "dkim-selector-lf",
        '[dkim]\ndomain = "example.com"\nselector = "s1\\nx"\n',
        "dkim.selector: contains a line break (U+000A)",
    ),
    (
        "archive-dir-nul",
        '[archive]\ndir = "arch\\u0000ive"\n',
        "archive.dir: contains a control character (U+0000)",
    ),
    (
        "smtp-host-crlf",
        '[smtp]\nhost = "relay\\r\\n"\nfrom = "D <d@example.com>"\n',
        "smtp.host: contains a line break (U+000D)",
    ),
    ("title-not-text", "[digest]\ntitle = 7\n", "digest.title: expected a string, got int"),
]


def run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    config = tmp_path / "digest.toml"
    config.write_text(text, encoding="utf-8")
    code = main(["--config", str(config), "subscribers", "list"])
    err = capsys.readouterr().err.splitlines()
    return code, err


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_config_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(tmp_path, text, capsys)
    assert code == 2
    assert err[0] == f"digest: error: {tmp_path / 'digest.toml'}: {expected}"
    assert all(line.startswith("  hint: ") for line in err[1:])
    # Validated before any I/O: nothing was created.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digest.toml"]


def test_a_path_under_a_file_is_refused_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "blocker").write_text("x")
    for key, section, line in (
        ("archive.dir", "archive", 'dir = "blocker/archive"'),
        ("storage.path", "storage", 'path = "blocker/db.sqlite3"'),
        ("outbox.dir", "outbox", 'dir = "blocker/outbox"'),
        ("schedule.reports_dir", "schedule", 'reports_dir = "blocker/reports"'),
    ):
        code, err = run(tmp_path, f"[{section}]\n{line}\n", capsys)
        assert code == 2
        blocker = tmp_path / "blocker"
        why = (
            f"{blocker} is not a folder"  # the database's own folder
            if key == "storage.path"
            else f"{tmp_path / line.split(chr(34))[1]} cannot be created: {blocker} is a file"
        )
        assert err[0] == f"digest: error: {tmp_path / 'digest.toml'}: {key}: {why}", err


def test_a_folder_named_as_the_database_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "db").mkdir()
    code, err = run(tmp_path, '[storage]\npath = "db"\n', capsys)
    assert (code, err[0]) == (
        2,
        f"digest: error: {tmp_path / 'digest.toml'}: storage.path: {tmp_path / 'db'} is a "
        "folder; name the database file",
    )


def test_an_archive_dir_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "archive").write_text("x")
    code, err = run(tmp_path, '[archive]\ndir = "archive"\n', capsys)
    assert (code, err[0]) == (
        2,
        f"digest: error: {tmp_path / 'digest.toml'}: archive.dir: {tmp_path / 'archive'} is "
        "not a folder",
    )


def test_a_missing_templates_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(tmp_path, '[templates]\ndir = "my-templates"\n', capsys)
    assert (code, err[0]) == (
        2,
        f"digest: error: {tmp_path / 'digest.toml'}: templates.dir: "
        f"{tmp_path / 'my-templates'} is not a folder",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: see test_faults")
def test_an_unwritable_archive_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code, err = run(tmp_path, '[archive]\ndir = "locked/archive"\n', capsys)
    assert (code, err[0]) == (
        2,
        f"digest: error: {tmp_path / 'digest.toml'}: archive.dir: {locked / 'archive'} cannot "
        f"be created: {locked} is not writable",
    )


# -- a stranger's slips: each error says how to write it right ----------------

# (id, TOML text, the error line after "<file>: ", the hint line after "  hint: ")
SLIPS = [
    (
        "number-in-quotes",
        '[digest]\nmax_per_section = "10"\n',
        "digest.max_per_section: expected an integer, got str",
        "write the number without quotes: max_per_section = 10",
    ),
    (
        "text-without-quotes",
        "[digest]\ntitle = 7\n",
        "digest.title: expected a string, got int",
        'put it in quotes: title = "7"',
    ),
    (
        "one-country-not-a-list",
        '[digest]\ncountries = "KR"\n',
        "digest.countries: expected a list, got str",
        'write a list, even of one: countries = ["KR"]',
    ),
    (
        "boolean-in-quotes",
        '[[feeds]]\nurl = "https://a.example/f"\ncountry = "HK"\nlocal = "True"\n',
        "feeds[0].local: expected true or false, got str",
        "write it without quotes, in lower case: local = true",
    ),
    (
        "url-without-scheme",
        '[[feeds]]\nurl = "example-news.jp/feed.xml"\n',
        "feeds[0].url: 'example-news.jp/feed.xml' is not an http(s) URL",
        'write the whole address, with its scheme: "https://example-news.jp/feed.xml"',
    ),
    (
        "url-of-another-scheme",
        '[[feeds]]\nurl = "ftp://example-news.jp/feed.xml"\n',
        "feeds[0].url: 'ftp://example-news.jp/feed.xml' is not an http(s) URL",
        "write an address starting with https:// (or http://)",
    ),
    (
        "country-by-its-name",
        '[digest]\ncountries = ["KR", "Japan"]\n',
        "digest.countries: 'Japan' is not an ISO 3166 country code",
        'write its code: "JP"',
    ),
    (
        "country-by-its-chinese-name",
        '[[feeds]]\nurl = "https://a.example/f"\ncountry = "台灣"\n',
        "feeds[0].country: '台灣' is not an ISO 3166 country code",
        'write its code: "TW"',
    ),
    (
        "country-by-a-short-name",
        '[aliases]\nUK = ["Cambridge"]\n',
        "aliases.UK: 'UK' is not an ISO 3166 country code",
        'write its code: "GB"',
    ),
    (
        "port-out-of-range",
        '[smtp]\nhost = "relay.example.net"\nfrom = "D <d@example.net>"\nport = 99999\n',
        "smtp.port: 99999 is not a TCP port",
        "a port is 1 to 65535: 587 for starttls, 465 for ssl, 25 for none",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected", "hint"), [c[1:] for c in SLIPS], ids=[c[0] for c in SLIPS]
)
def test_a_slip_gets_a_hint_saying_how_to_write_it(
    tmp_path: Path, text: str, expected: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(tmp_path, text, capsys)
    assert code == 2
    assert err == [f"digest: error: {tmp_path / 'digest.toml'}: {expected}", f"  hint: {hint}"]


def test_broken_toml_says_where_and_what_to_look_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(tmp_path, '[digest]\ntitle = "Weekly\nlanguage = "en"\n', capsys)
    assert code == 2
    assert err[0].startswith(f"digest: error: {tmp_path / 'digest.toml'}: not valid TOML: ")
    assert "line 2" in err[0]
    assert err[1].startswith("  hint: look at that line and the one before: text needs quotes")


def test_a_file_where_a_folder_goes_is_not_a_permission_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "archive").write_text("x")
    code, err = run(tmp_path, '[archive]\ndir = "archive"\n', capsys)
    assert code == 2
    assert err[1] == (
        "  hint: point archive.dir at a folder (digest creates a missing one), "
        "or move the file away"
    )
    (tmp_path / "archive").unlink()
    (tmp_path / "db").mkdir()
    code, err = run(tmp_path, '[storage]\npath = "db"\n', capsys)
    assert (code, err[1]) == (2, '  hint: name a file in it, e.g. path = "db/digest.sqlite3"')
