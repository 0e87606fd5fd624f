"""The command line's manners: a closed pipe, tab completion, "did you mean",
`--log-level` in any case, the exit code of a send stopped on request, each
warning said once, and `--json`.

Real processes where the behaviour is a process's (a pipe closed under it, a
SIGINT, a shell sourcing a completion script), real loopback servers and SQLite
files otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from ledgerworld import SECRET, WEEK, World, cli_process, make_world

from digest.cli import CLOSED_PIPE, build_parser, main
from digest.cli.completion import SHELLS
from digest.config import Settings
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import Received, SmtpSink
from digest.run.console import STOPPED
from digest.state.store import Store

WriteConfig = Callable[..., tuple[Path, Settings]]
BIN = Path(sys.executable).parent  # the virtualenv's bin/, where `digest` is installed
NOW = datetime(2026, 11, 20, tzinfo=UTC)
# One connection, so a stop lands mid-send.
DELIVERY = "connections = 1"
# Where the mailed links point: a name send accepts (it refuses example.com and the
# like); never fetched.
BASE_URL = "https://weekly.asia-ai-digest.net/"


def command_tree(parser: argparse.ArgumentParser | None = None) -> dict[str, list[str]]:
    """Each command → its subcommands ([] for none), read from the parser itself."""
    parser = parser or build_parser()
    tree: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = [
                    child
                    for a in sub._actions
                    if isinstance(a, argparse._SubParsersAction)
                    for child in a.choices
                ]
                tree[name] = nested
    return tree


def list_world(tmp_path: Path, readers: int) -> Path:
    """A config and a database with `readers` subscribers (one named in Japanese)."""
    config = tmp_path / "digest.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
        '[[feeds]]\nurl = "https://feeds.example.com/kr.xml"\ncountry = "KR"\n',
        encoding="utf-8",
    )
    with Store(tmp_path / "db.sqlite3") as store:
        store.add_subscriber("anna@example.com", "アンナ", NOW)
        for n in range(readers - 1):
            store.add_subscriber(f"reader{n:05d}@example.com", "", NOW)
    return config


def real_links(world: World) -> World:
    """`world` with its archive's links at `BASE_URL` (the CLI rereads the file)."""
    text = world.config.read_text(encoding="utf-8")
    world.config.write_text(text.replace("https://digest.example.com/", BASE_URL), "utf-8")
    return world


def digest_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_ARC", "COMP_"))}
    env.pop("PYTHONUNBUFFERED", None)  # stdout buffered, as for anyone at a shell
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


# -- a closed pipe -------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["subscribers", "list"],
        ["subscribers", "list", "--json"],
        ["subscribers", "export"],
        ["feeds"],
        ["--help"],
        ["completion", "bash"],
    ],
    ids=" ".join,
)
def test_a_reader_gone_before_the_output_is_no_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    config = list_world(tmp_path, 50)
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=digest_env(),
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader left before the first byte: every write fails
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == CLOSED_PIPE == 141
    assert err == b""  # no traceback, no "Exception ignored", no error line


@pytest.mark.skipif(not shutil.which("head"), reason="needs head")
def test_subscribers_list_into_head(tmp_path: Path) -> None:
    config = list_world(tmp_path, 5000)  # ~150 KB: more than a pipe holds
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"digest --config '{config}' subscribers list | head -1"],
        capture_output=True,
        text=True,
        env=digest_env(),
        timeout=60,
        check=False,
    )
    assert done.stdout == "anna@example.com\tアンナ\n"
    assert done.stderr == ""
    assert done.returncode == 141  # what `yes | head -1` gives under pipefail


# -- completion ----------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_each_shell_gets_a_script_it_parses(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "digest" in script and "_ARGCOMPLETE" in script
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed: the script is made, not parsed")
    check = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}
    done = subprocess.run(
        check[shell], input=script, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


def test_completion_help_says_where_the_script_goes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["completion", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "bash-completion/completions/digest" in text and "~/.zfunc/_digest" in text
    assert "~/.config/fish/completions/digest.fish" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "digest completion bash|zsh|fish" in " ".join(capsys.readouterr().out.split())


def complete_bash(line: str) -> list[str]:
    """What TAB offers after `line` in bash: the script sourced, its function called
    as bash's programmable completion calls it, COMPREPLY printed."""
    words = line.split(" ")
    program = (
        "source <(digest completion bash)\n"
        f"COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_python_argcomplete digest\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program],
        capture_output=True,
        text=True,
        env=digest_env(),
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


def complete_protocol(line: str, shell: str, tmp_path: Path) -> list[str]:
    """What `digest` answers a shell's TAB with (zsh, fish: the same request their
    scripts make), read from the file argcomplete writes it to."""
    answer = tmp_path / "answer"
    subprocess.run(
        ["digest"],
        env=digest_env(
            _ARGCOMPLETE="1",
            _ARGCOMPLETE_SHELL=shell,
            _ARGCOMPLETE_SUPPRESS_SPACE="1",
            _ARGCOMPLETE_STDOUT_FILENAME=str(answer),
            _ARGCOMPLETE_IFS="\n",
            COMP_LINE=line,
            COMP_POINT=str(len(line)),
        ),
        capture_output=True,
        timeout=30,
        check=True,
    )
    # zsh and fish answers carry "name:description" or "name<TAB>description".
    return [w.split("\t")[0].split(":")[0] for w in answer.read_text().splitlines() if w]


@pytest.mark.skipif(not (BIN / "digest").exists(), reason="digest is not installed in this venv")
def test_tab_offers_every_command_and_subcommand(tmp_path: Path) -> None:
    tree = command_tree()
    assert {"send", "subscribers", "completion"} <= tree.keys()
    assert set(complete_bash("digest ")) >= tree.keys()
    for command, subcommands in tree.items():
        if subcommands:
            assert set(complete_bash(f"digest {command} ")) >= set(subcommands), command
    assert complete_bash("digest subscribers li") == ["list"]
    assert set(complete_bash("digest --log-format ")) == {"text", "json"}
    for shell in ("zsh", "fish"):
        assert set(complete_protocol("digest ", shell, tmp_path)) >= tree.keys(), shell
        offered = complete_protocol("digest deliveries ", shell, tmp_path)
        assert set(offered) >= set(tree["deliveries"]), shell


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed")
def test_zsh_registers_the_script_with_compinit() -> None:
    program = (
        "autoload -Uz compinit; compinit -u -D; source <(digest completion zsh); "
        "print -r -- ${_comps[digest]}"
    )
    done = subprocess.run(
        ["zsh", "-f", "-c", program],
        capture_output=True,
        text=True,
        env=digest_env(),
        timeout=30,
        check=False,
    )
    assert done.stdout.strip() == "_python_argcomplete", done.stderr


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed")
def test_fish_completes_through_its_script() -> None:
    done = subprocess.run(
        ["fish", "-c", "digest completion fish | source; complete -C'digest subscribers '"],
        capture_output=True,
        text=True,
        env=digest_env(),
        timeout=30,
        check=False,
    )
    offered = {line.split("\t")[0] for line in done.stdout.splitlines()}
    assert offered >= set(command_tree()["subscribers"]), done.stderr


# -- did you mean --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["sned"], "digest: error: unknown command 'sned' (did you mean 'send'?)"),
        (["subscribers", "lsit"], "digest subscribers: error: unknown command 'lsit' "
         "(did you mean 'list'?)"),
        (["deliveries", "setle", "--week", "2026-W47"], "unknown command 'setle' "
         "(did you mean 'settle'?)"),
        (["compleiton", "bash"], "(did you mean 'completion'?)"),
    ],
)  # fmt: skip
def test_a_mistyped_command_gets_a_suggestion(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert said in capsys.readouterr().err


def test_a_command_like_none_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["xyzzy"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown command 'xyzzy' (one of: gather, build, " in err and "did you mean" not in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        # argparse alone took "x.toml" for the command: "unknown command 'x.toml'"
        (["--cofnig", "x.toml", "gather"], "digest: error: unrecognized arguments: --cofnig "
         "(did you mean '--config'?)"),
        (["send", "--weak", "2026-W47"], "digest send: error: unrecognized arguments: --weak "
         "(did you mean '--week'?)"),
        (["send", "--week=2026-W47", "--dryrun"], "(did you mean '--dry-run'?)"),
        (["feeds", "add", "https://example-news.jp/feed.xml", "--nmae", "N"],
         "digest feeds add: error: unrecognized arguments: --nmae (did you mean '--name'?)"),
        (["--log-formt", "json", "feeds"], "(did you mean '--log-format'?)"),
        (["gather", "--zzzzzz"], "digest gather: error: unrecognized arguments: --zzzzzz"),
    ],
)  # fmt: skip
def test_a_mistyped_option_gets_a_suggestion(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "unknown command" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--conf", "x.toml", "subscribers", "--help"],  # an abbreviation argparse allows
        ["serve", "--port", "-1", "--help"],  # a value that looks like an option
        ["edit", "--file", "-", "--help"],
        ["deliveries", "retry", "--week", "2026-W47", "a@example.net", "--help"],
    ],
    ids=" ".join,
)
def test_right_options_pass_the_option_check(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0, capsys.readouterr().err


def test_help_verb_is_the_help_option(capsys: pytest.CaptureFixture[str]) -> None:
    for topic in (["send"], ["feeds", "add"], []):
        with pytest.raises(SystemExit) as info:
            main(["help", *topic])
        assert info.value.code == 0
        via_help = capsys.readouterr().out
        with pytest.raises(SystemExit):
            main([*topic, "--help"])
        assert via_help == capsys.readouterr().out
        assert via_help.startswith(" ".join(["usage: digest", *topic]))
    with pytest.raises(SystemExit) as info:
        main(["help", "sned"])
    assert info.value.code == 2
    assert "unknown command 'sned' (did you mean 'send'?)" in capsys.readouterr().err


# -- --log-level ---------------------------------------------------------------


@pytest.mark.parametrize("given", ["DEBUG", "Info", "warning", "ERROR"])
def test_log_level_in_any_case(given: str) -> None:
    args = build_parser().parse_args(["--log-level", given, "feeds"])
    assert args.log_level == given.lower()
    args = build_parser().parse_args(["feeds", "--log-level", given, "--log-format", "JSON"])
    assert args.log_level == given.lower() and args.log_format == "json"


def test_log_level_still_refuses_a_level_that_is_none(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--log-level", "LOUD", "feeds"])
    assert info.value.code == 2
    assert "--log-level: invalid choice" in capsys.readouterr().err


def test_log_level_debug_in_capitals_is_applied(tmp_path: Path) -> None:
    assert main(["--log-level", "DEBUG", "--config", str(tmp_path / "no.toml"), "feeds"]) == 2
    assert logging.getLogger().level == logging.DEBUG
    main(["--config", str(tmp_path / "no.toml"), "feeds"])  # back to the default
    assert logging.getLogger().level == logging.WARNING


# -- stopped on request --------------------------------------------------------


def test_sigint_during_send_exits_3_and_the_next_send_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with SmtpSink(dot_delay=(0.05, 0.05), late_commit_rate=1.0) as sink:
        world = real_links(make_world(tmp_path, sink.port, 40, delivery=DELIVERY))
        proc = cli_process(world, "send", "--week", WEEK)
        deadline = time.monotonic() + 60
        while len(sink.received) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the send never got going"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == STOPPED == 3, err.decode()
        assert "stopped on request; the rest goes out on the next run" in out.decode()
        assert "Traceback" not in err.decode()
        first = len(sink.received)
        assert 3 <= first < 40
        again = cli_process(world, "send", "--week", WEEK)
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err.decode()
        assert sorted(sink.counts().values()) == [1] * 40  # the rest, each once


W47_DUE = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)


def rss(titles: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{t}</title><link>https://kr.example/{i}</link>"
        f"<guid>https://kr.example/{i}</guid><pubDate>Wed, 18 Nov 2026 01:00:00 +0000</pubDate>"
        f"<description>{t}.</description></item>"
        for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Korea AI'
        f"</title><link>https://kr.example/</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def run_world(
    feed_server: FeedServer, write_config: WriteConfig, secret: str, tmp_path: Path
) -> Iterator[tuple[Path, Settings, SmtpSink]]:
    feed_server["/kr.xml"] = Route(rss(["Samsung opens AI chip lab in Pangyo, Korea"]))
    feed_server["/gone.xml"] = Route(b"Not Found", status=404, content_type="text/plain")
    with SmtpSink(dot_delay=(0.05, 0.05), late_commit_rate=1.0) as sink:
        config, settings = write_config(
            f'[[feeds]]\nurl = "{feed_server.url("/kr.xml")}"\ncountry = "KR"\n'
            f'[[feeds]]\nurl = "{feed_server.url("/gone.xml")}"\n'
            f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
            f'from = "Digest <digest@example.com>"\n[delivery]\n{DELIVERY}\n'
            f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
            f'[archive]\ndir = "{tmp_path.as_posix()}/archive"\nbase_url = "{BASE_URL}"\n'
        )
        with Store(settings.storage_path) as store:
            for n in range(20):
                store.add_subscriber(f"reader{n:02d}@example.com", "", TUESDAY)
        yield config, settings, sink


@pytest.mark.network
def test_sigterm_during_run_exits_3_and_json_says_stopped(
    run_world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, sink = run_world
    with time_machine.travel(TUESDAY, tick=True):
        assert main(["--config", str(config), "run"]) == 0  # first run: W46 was due before it
    capsys.readouterr()
    fired = threading.Event()

    def stop_after_three(_: Received) -> None:
        # The send is under way (its signal handler installed): what systemd's stop does.
        if len(sink.received) >= 3 and not fired.is_set():
            fired.set()
            os.kill(os.getpid(), signal.SIGTERM)

    sink.on_message(stop_after_three)
    with time_machine.travel(W47_DUE + timedelta(minutes=1), tick=True):
        code = main(["--config", str(config), "run", "--json"])
    sink.on_message(None)
    out, err = capsys.readouterr()
    assert code == STOPPED, err
    data = json.loads(out)  # stdout: one JSON object, nothing else
    assert data["stopped"] is True and data["week"] == "2026-W47"
    assert data["delivery"]["stopped"] is True and 3 <= data["delivery"]["sent"] < 20
    assert data["gather"]["failed"][0]["url"].endswith("/gone.xml")
    assert Path(data["report"]).exists()
    with time_machine.travel(W47_DUE + timedelta(minutes=16), tick=True):
        assert main(["--config", str(config), "run"]) == 0
    assert sorted(sink.counts().values()) == [1] * 20


# -- each warning once -----------------------------------------------------------


@pytest.mark.network
def test_gather_names_a_failed_feed_once(
    run_world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _ = run_world
    assert main(["--config", str(config), "gather"]) == 0
    out, err = capsys.readouterr()
    assert (out + err).count("gone.xml") == 1  # the summary line, not a log record too
    assert "FAILED  http://" in out and "gone.xml: HTTP 404 Not Found" in out
    assert main(["--config", str(config), "--log-format", "json", "gather"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert [r["level"] for r in records if "gone.xml" in r["message"]][:1] == ["WARNING"]


@pytest.mark.network
def test_a_refused_reader_is_named_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with SmtpSink() as sink:
        world = real_links(make_world(tmp_path, sink.port, 3, delivery=DELIVERY))
        sink.refuse("r001@example.com", "550 5.1.1 no such user")
        assert main(["--config", str(world.config), "send", "--week", WEEK]) == 1
    out, err = capsys.readouterr()
    assert "r001@example.com" in out and "r001@example.com" not in err


# -- --json ----------------------------------------------------------------------


def test_subscribers_list_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = list_world(tmp_path, 3)
    with Store(tmp_path / "db.sqlite3") as store:
        store.set_subscriber_status("reader00001@example.com", "unsubscribed", NOW)
    assert main(["--config", str(config), "subscribers", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["email"] for r in rows] == ["anna@example.com", "reader00000@example.com"]
    assert rows[0] == {
        "email": "anna@example.com",
        "name": "アンナ",
        "status": "active",
        "created": "2026-11-20T00:00:00+00:00",
        "confirmed": None,
        "language": "",
        "countries": [],
    }
    assert main(["--config", str(config), "subscribers", "list", "--all", "--json"]) == 0
    out = capsys.readouterr().out
    assert "アンナ" in out  # UTF-8, not \\u escapes
    statuses = {r["email"]: r["status"] for r in map(json.loads, out.splitlines())}
    assert statuses["reader00001@example.com"] == "unsubscribed" and len(statuses) == 3


@pytest.mark.network
def test_feeds_and_gather_json(
    run_world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _ = run_world
    assert main(["--config", str(config), "gather", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert len(out.splitlines()) == 1
    assert data["feeds"] == 2 and data["fetched"] == 1 and data["new_posts"] == 1
    assert data["failed"] == [
        {"url": data["results"][1]["url"], "error": "failed: HTTP 404 Not Found"}
    ]
    assert data["gone"] == [] and data["waiting"] == [] and data["all_failed"] is False
    assert [r["status"] for r in data["results"]] == ["ok", "failed"]

    assert main(["--config", str(config), "feeds", "--json"]) == 0
    feeds = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [f["status"] for f in feeds] == ["ok", "failing"]
    assert feeds[1]["failures"] == 1 and feeds[0]["last_ok"] is not None
    assert set(feeds[0]) == {
        "url", "name", "country", "language", "filter", "local",
        "status", "detail", "fetched_from", "moved_to", "last_ok", "failures",
    }  # fmt: skip
    assert feeds[0]["country"] == "KR" and feeds[1]["country"] == ""
    for argv in (["feeds", "list", "--json"], ["feeds", "--json", "list"]):
        assert main(["--config", str(config), *argv]) == 0
        assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == feeds
    assert main(["--config", str(config), "feeds"]) == 0  # the plain verb, as before
    assert capsys.readouterr().out.splitlines()[-1].startswith("2 feeds: 1 ok, 1 failing")


# -- a test copy without [smtp] -------------------------------------------------


@pytest.mark.network
def test_a_test_copy_without_smtp_says_it_went_to_the_outbox(
    feed_server: FeedServer,
    write_config: WriteConfig,
    secret: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Without [smtp] a message is written as .eml, not mailed: the one who asked for
    # a copy to themselves must not wait for a mail that never comes.
    feed_server["/kr.xml"] = Route(rss(["Samsung opens AI chip lab in Pangyo, Korea"]))
    config, _ = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/kr.xml")}"\ncountry = "KR"\n'
        f'[outbox]\ndir = "{tmp_path.as_posix()}/outbox"\n'
    )
    with time_machine.travel(W47_DUE + timedelta(hours=1), tick=True):
        assert main(["--config", str(config), "gather"]) == 0
        capsys.readouterr()
        assert main(["--config", str(config), "send", "--to", "me@example.net"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2026-W47: test copy sent to me@example.net (<")
    assert out[1] == (
        f"outbox: {tmp_path / 'outbox'} (no [smtp] in digest.toml: written there as .eml, "
        "not mailed)"
    )
    assert list((tmp_path / "outbox").rglob("*.eml"))
