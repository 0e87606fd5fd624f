"""`digest init DIR`: a folder that runs digest for real, from any working directory."""

from __future__ import annotations

import getpass
import re
import shlex
import stat
from pathlib import Path

import pytest

from digest import bundled
from digest.cli import main
from digest.config import load_settings
from digest.credentials import env_file_for, load_secrets
from digest.deploy import cron_line, init_folder

FILES = (
    "digest.toml",
    ".env",
    "systemd/digest-run.service",
    "systemd/digest-run.timer",
    "systemd/digest.service",
    "digest.cron",
)


def test_init_writes_a_ready_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "srv" / "digest"
    assert main(["init", str(folder)]) == 0
    out = capsys.readouterr().out
    for name in FILES:
        assert (folder / name).is_file(), name
        assert str(folder / name) in out
    assert "next:" in out and "subscribers add" in out
    # Units written by root run digest as root: said, with what to do instead.
    as_root = getpass.getuser() == "root"
    assert ("User=root" in out) == as_root and ("User=digest" in out) == as_root
    # The config is digest's own commented example, and digest accepts it.
    config = folder / "digest.toml"
    assert config.read_text("utf-8") == bundled.EXAMPLE_CONFIG.read_text("utf-8")
    settings = load_settings(config)
    assert settings.storage_path.resolve() == (folder / "var/digest.sqlite3").resolve()
    assert settings.archive.dir.resolve() == (folder / "archive").resolve()
    # The secret: fresh, long, readable by its owner only, found through the config.
    env = folder / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    key = load_secrets(env_file_for(config)).require_signing_key()
    assert len(key) >= 32
    assert (folder / "var").is_dir()  # the cron line appends its log there


def test_each_folder_gets_its_own_secret(tmp_path: Path) -> None:
    init_folder(tmp_path / "a")
    init_folder(tmp_path / "b")
    keys = {load_secrets(tmp_path / d / ".env").require_signing_key() for d in "ab"}
    assert len(keys) == 2


def test_units_and_cron_name_the_folder_absolutely(tmp_path: Path) -> None:
    folder = tmp_path / "with space%"
    init_folder(folder)
    config = str(folder / "digest.toml")
    run = (folder / "systemd/digest-run.service").read_text()
    exec_start = next(line for line in run.splitlines() if line.startswith("ExecStart="))
    # systemd: quoted because of the space, % doubled (a specifier otherwise).
    assert config.replace("%", "%%") in exec_start and exec_start.endswith(" run")
    assert "Type=oneshot" in run and "SuccessExitStatus=75 3" in run
    assert re.search(
        r"^OnCalendar=\*:0/15$", (folder / "systemd/digest-run.timer").read_text(), re.M
    )
    daemon = (folder / "systemd/digest.service").read_text()
    assert re.search(r"^ExecStart=.* daemon$", daemon, re.M)
    assert "[Install]" in daemon
    line = (folder / "digest.cron").read_text().splitlines()[-1]
    assert line.startswith("*/15 * * * * ")
    assert cron_line(folder, ["/opt/d"]).startswith("*/15 * * * * /opt/d --config ")
    # cron reads % as a line break: escaped; the shell sees one quoted word for the path.
    assert "\\%" in line
    words = shlex.split(line.split(" ", 5)[5].replace("\\%", "%"))
    assert words[words.index("--config") + 1] == config
    assert words[words.index("run") + 1 :] == [">>", str(folder / "var/digest.log"), "2>&1"]


def test_existing_files_are_refused_and_env_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_folder(tmp_path)
    env_before = (tmp_path / ".env").read_bytes()
    (tmp_path / "digest.toml").write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 1  # nothing written
    err = capsys.readouterr().err
    assert "already has digest.toml" in err and "--force" in err
    assert (tmp_path / "digest.toml").read_text() == "# mine\n"
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert "kept " in capsys.readouterr().out
    assert (tmp_path / ".env").read_bytes() == env_before  # links already mailed stay valid
    assert (tmp_path / "digest.toml").read_text() != "# mine\n"


def test_init_into_a_file_or_an_unwritable_place_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "plain"
    file.write_text("")
    assert main(["init", str(file)]) == 1
    err = capsys.readouterr().err
    assert "is not a folder" in err and "hint: digest init takes the folder" in err
    assert f"digest init {tmp_path}" in err  # e.g. `digest init site/digest.toml`
    # Below a plain file no folder can be made, whoever runs the test (root included).
    assert main(["init", str(file / "digest")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("digest: error: ") and "cannot write" in err
    assert "Traceback" not in err


def test_digest_finds_the_config_in_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    init_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["subscribers", "add", "reader@example.com"]) == 0
    assert (tmp_path / "var" / "digest.sqlite3").is_file()
    capsys.readouterr()
    assert main(["subscribers", "list"]) == 0
    assert capsys.readouterr().out.strip() == "reader@example.com"


def test_missing_config_points_at_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["gather"]) == 2
    err = capsys.readouterr().err
    assert "config file not found" in err and "digest init" in err
