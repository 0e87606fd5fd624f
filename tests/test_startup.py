"""What a start of `digest` imports: `--help`, `--version`, a TAB press and
`subscribers list` load none of the libraries of the pipeline's stages.

Structural, not timed (benchmarks/startup.py has the timings): each command runs in
a fresh interpreter through `digest.cli.main`, and the names in `sys.modules` at its
end are checked. Also the shortcuts that keep the settings loader light: the
constants the parser spells out agree with the loader's, and the values the loader
accepts without asking babel or `limits` are ones those libraries accept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

# The libraries of the stages (fetching, rendering, the web app, the daemon, the
# knowledge base's locale data), and what validates an address or a rate limit.
HEAVY = (
    "feedparser",
    "httpx",
    "jinja2",
    "premailer",
    "babel",
    "flask",
    "werkzeug",
    "apscheduler",
    "limits",
    "email_validator",
    "dotenv",
    "tomlkit",
    "argcomplete",
)
# Stages a list command never runs.
STAGES = (
    "digest.editorial",
    "digest.fetch",
    "digest.render",
    "digest.mail",
    "digest.web",
    "digest.run",
    "digest.loopback",
)
# `--help` reads no settings and opens no database either.
NOT_FOR_HELP = (*STAGES, "digest.config", "digest.state", "digest.models", "digest.credentials")

# Runs `digest.cli.main` with argv[2:], then writes the loaded modules to argv[1]
# (also when argcomplete, having answered a TAB, leaves through os._exit).
WRAPPER = """
import json, os, sys
out, sys.argv = sys.argv[1], ["digest", *sys.argv[2:]]
def dump(code):
    with open(out, "w") as f:
        json.dump({"code": code, "modules": sorted(sys.modules)}, f)
leave = os._exit
os._exit = lambda code: (dump(code), leave(code))
from digest.cli import main
try:
    code = main()
except SystemExit as e:
    code = e.code
dump(code)
"""


def loaded(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """The modules a fresh `digest ARGS` has imported by its end."""
    out = tmp_path / "modules.json"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("_ARC", "COMP_", "DIGEST"))}
    subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        timeout=60,
        check=True,
    )
    result = json.loads(out.read_text())
    assert result["code"] in (0, None), result["code"]
    return list(result["modules"])


def offending(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == b or m.startswith(b + ".") for b in banned)]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["subscribers", "--help"]], ids=str)
def test_help_imports_no_stage_and_no_library(tmp_path: Path, args: list[str]) -> None:
    modules = loaded(tmp_path, *args)
    assert "digest.cli.parser" in modules
    assert offending(modules, HEAVY + NOT_FOR_HELP) == []


def test_subscribers_list_imports_only_settings_and_store(tmp_path: Path) -> None:
    from digest.state.store import Store

    config = tmp_path / "digest.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
        '[[feeds]]\nurl = "https://feeds.example.com/kr.xml"\ncountry = "KR"\n',
        encoding="utf-8",
    )
    with Store(tmp_path / "db.sqlite3") as store:
        for n in range(3):
            store.add_subscriber(f"reader{n}@example.com", "", datetime(2026, 11, 1, tzinfo=UTC))
    for args in (["subscribers", "list"], ["subscribers", "list", "--json"]):
        modules = loaded(tmp_path, "--config", str(config), *args)
        assert "digest.state.store" in modules
        # shapes.py is digest's own (the JSON of --json): allowed, and cheap.
        assert offending(modules, HEAVY + STAGES) == [], args


def test_gather_imports_no_trio_and_leaves_it_importable(tmp_path: Path) -> None:
    # httpcore imports trio when it is installed (selenium, in the dev tools,
    # brings it): ~80 ms of every gather for an event loop digest never runs.
    pytest.importorskip("trio")
    from digest.loopback.feedserver import FeedServer, Route

    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>A post</title><link>https://example.com/a</link></item>"
        "</channel></rss>"
    )
    with FeedServer() as server:
        server["/feed.xml"] = Route(rss.encode())
        config = tmp_path / "digest.toml"
        config.write_text(
            f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
            f'[gather]\nallow_private = ["127.0.0.1"]\n'
            f'[[feeds]]\nurl = "{server.url("/feed.xml")}"\n',
            encoding="utf-8",
        )
        modules = loaded(tmp_path, "--config", str(config), "gather")
    assert "httpcore" in modules and "digest.fetch.transport" in modules
    assert offending(modules, ("trio", "attr", "attrs")) == []
    # The block that hid it is over: trio imports as usual afterwards.
    code = (
        "import sys\n"
        "from digest.fetch import trio_hidden\n"
        "with trio_hidden():\n    import httpcore\n"
        "import trio, httpcore._synchronization as s\n"
        "print(s.trio is None, sys.modules['trio'] is trio)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["True", "True"]


def test_a_tab_press_imports_argcomplete_and_the_parser_only(tmp_path: Path) -> None:
    line = "digest subscribers "
    modules = loaded(
        tmp_path,
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_SHELL="bash",
        _ARGCOMPLETE_STDOUT_FILENAME=str(tmp_path / "answer"),
        _ARGCOMPLETE_IFS="\n",
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
    )
    assert "argcomplete" in modules
    assert "list" in (tmp_path / "answer").read_text().split()
    heavy = tuple(h for h in HEAVY if h != "argcomplete")
    assert offending(modules, heavy + NOT_FOR_HELP) == []


def test_the_parsers_languages_are_the_settings_languages() -> None:
    from digest.cli.parser import SUPPORTED_LANGUAGES as SPELT_OUT
    from digest.config import SUPPORTED_LANGUAGES

    assert SPELT_OUT == SUPPORTED_LANGUAGES


def test_codes_taken_without_babel_are_ones_babel_knows() -> None:
    from digest.config import DEFAULT_COUNTRIES
    from digest.configvalues import _COMMON_TERRITORIES, known_territories

    assert set(DEFAULT_COUNTRIES) == _COMMON_TERRITORIES
    assert known_territories() >= _COMMON_TERRITORIES


def test_default_rate_limits_taken_without_limits_parse() -> None:
    from limits import parse_many

    from digest.config import WebSettings

    for value in (WebSettings().ip_limit, WebSettings().address_limit):
        assert parse_many(value)


def test_other_values_are_still_checked_by_the_libraries(tmp_path: Path) -> None:
    from digest.config import load_settings
    from digest.errors import ConfigError

    def load(extra: str) -> None:
        path = tmp_path / "digest.toml"
        path.write_text(f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n{extra}')
        load_settings(path)

    load('[digest]\ncountries = ["KR", "vn"]\n[web]\nip_limit = "10/minute"\n')
    with pytest.raises(ConfigError, match="not an ISO 3166 country code"):
        load('[digest]\ncountries = ["KR", "XZ"]\n')
    with pytest.raises(ConfigError, match="not a rate limit"):
        load('[web]\nip_limit = "often"\n')
