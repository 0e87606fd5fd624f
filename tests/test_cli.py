"""Every CLI command has help text; `python -m digest` works; the demo runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from digest.cli import build_parser, main
from digest.loopback.demo import DEMO_WEEK

COMMANDS = [
    ["gather"],
    ["build"],
    ["preview"],
    ["edit"],
    ["send"],
    ["run"],
    ["daemon"],
    ["demo"],
    ["init"],
    ["feeds"],
    ["feeds", "list"],
    ["feeds", "add"],
    ["feeds", "remove"],
    ["feeds", "import"],
    ["feeds", "export"],
    ["subscribers"],
    ["subscribers", "add"],
    ["subscribers", "remove"],
    ["subscribers", "list"],
    ["subscribers", "import"],
    ["subscribers", "export"],
    ["subscribers", "forget"],
    ["serve"],
    ["inbox"],
    ["deliveries"],
    ["deliveries", "list"],
    ["deliveries", "retry"],
    ["deliveries", "settle"],
    ["explain"],
    ["completion"],
    ["help"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: digest " + " ".join(command))
    assert len(out.splitlines()) > 3


@pytest.mark.parametrize(("argv", "asked"), [([], "command"), (["subscribers"], "action")])
def test_no_command_shows_the_choices(
    argv: list[str], asked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: digest") and err.endswith(f"which {asked}? (listed above)\n")
    assert ("gather" if asked == "command" else "import") in err


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in (
        "gather",
        "build",
        "preview",
        "send",
        "run",
        "daemon",
        "subscribers",
        "deliveries",
        "explain",
        "init",
        "demo",
        "completion",
    ):
        assert f"    {name}" in out


def test_bad_week_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["build", "--week", "2026-47"])
    assert info.value.code == 2
    assert "ISO week" in capsys.readouterr().err


def test_python_dash_m_digest() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0 and "usage: digest" in done.stdout


def test_missing_config_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "gather"]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_a_missing_config_says_where_digest_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Started in the wrong folder (cron starts in $HOME): the folder is named.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    assert main(["subscribers", "list"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"digest: error: digest.toml: config file not found (looked in {tmp_path})"
    assert err[1].startswith("  hint: write one with `digest init DIR`")
    # A stale $DIGEST_CONFIG: said, or the stranger looks for a --config they never gave.
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "old" / "digest.toml"))
    assert main(["subscribers", "list"]) == 2
    assert capsys.readouterr().err.startswith(
        f"digest: error: {tmp_path / 'old' / 'digest.toml'}: config file not found "
        "(named by $DIGEST_CONFIG)\n"
    )


def test_a_folder_given_as_the_config_names_the_file_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path), "gather"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"digest: error: {tmp_path}: cannot read config file: Is a directory",
        "  hint: --config and $DIGEST_CONFIG name the file itself, e.g. DIR/digest.toml",
    ]
    (tmp_path / "digest.toml").write_text("", encoding="utf-8")
    assert main(["--config", str(tmp_path), "gather"]) == 2
    assert capsys.readouterr().err.splitlines()[1] == (
        f"  hint: --config and $DIGEST_CONFIG name the file itself: {tmp_path / 'digest.toml'}"
    )


@pytest.mark.network
def test_demo_runs_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    out, err = capsys.readouterr()
    assert "gone.xml: HTTP 404" in out  # the broken feed is named, the run goes on
    assert (out + err).count("gone.xml") == 1  # once: the summary line, not a log record too
    assert "sent 3, failed 0" in out and "a second send of 2026-W46 sent 0" in out
    archive = tmp_path / "demo" / "archive"
    assert (archive / "index.html").exists() and (archive / f"{DEMO_WEEK}.html").exists()
    assert len(list((tmp_path / "demo" / "received").glob("*.eml"))) == 3


@pytest.mark.network
def test_json_log_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from digest.loopback.feedserver import FeedServer, Route

    with FeedServer() as server:
        server["/gone.xml"] = Route(b"no", status=404, content_type="text/plain")
        config = tmp_path / "digest.toml"
        config.write_text(
            f'[[feeds]]\nurl = "{server.url("/gone.xml")}"\n'
            f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
            '[gather]\nallow_private = ["127.0.0.1"]\n'  # the feed is on loopback
        )
        assert main(["--log-format", "json", "--config", str(config), "gather"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    failed = [r for r in records if r["level"] == "WARNING" and "gone.xml" in r["message"]]
    assert failed and failed[0]["logger"] == "digest.fetch.gather"
    assert {"time", "level", "logger", "message"} <= failed[0].keys()


@pytest.mark.network
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_demo_serve_lets_a_reader_sign_up_on_loopback(tmp_path: Path, stop: str) -> None:
    """`digest demo --serve`: after the demo, its pages answer on 127.0.0.1 and a
    signup's confirmation mail lands in received/, linking to those pages; Ctrl-C
    or SIGTERM (systemd's stop) ends it cleanly, exit 0."""
    import re
    import signal

    import httpx

    folder = tmp_path / "demo"
    with subprocess.Popen(
        [sys.executable, "-m", "digest", "demo", "--serve", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as proc:
        try:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if "Ctrl-C stops" in line:
                    break
            opened = next(line for line in lines if line.strip().startswith("open http"))
            base = re.search(r"open (http://127\.0\.0\.1:\d+/)subscribe", opened)
            assert base, lines
            with httpx.Client(base_url=base.group(1), timeout=10) as client:
                assert "2026-W46" in client.get("/").text  # the archive the demo wrote
                form = client.get("/subscribe")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert form.status_code == 200 and token
                before = set((folder / "received").glob("*.eml"))
                sent = client.post(
                    "/subscribe",
                    data={
                        "csrf_token": token.group(1),
                        "email": "new@example.org",
                        "language": "en",
                        "countries": ["KR", "JP"],
                    },
                )
                assert sent.status_code == 200, sent.text
            mails = set((folder / "received").glob("*.eml")) - before
            assert len(mails) == 1
            text = mails.pop().read_text("utf-8", errors="replace")
            assert base.group(1) + "confirm?token=" in text.replace("=\n", "")
            proc.send_signal(getattr(signal, stop))
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0 and "digest demo: stopped" in err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.mark.parametrize("command", [["subscribers", "import"], ["feeds", "import"]])
def test_an_import_file_that_cannot_be_read_is_a_bad_argument(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text("")
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(config), *command, "missing.file"]) == 2
    err = capsys.readouterr().err
    assert "missing.file: cannot read: No such file or directory" in err
    assert f"hint: a relative path is read from the current folder, {tmp_path}" in err
