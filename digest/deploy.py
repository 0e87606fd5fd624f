"""`digest init DIR`: a folder ready to run digest for real.

Owns: writing a new install's files into one folder: the commented example
config (`digest.toml`, digest's own, as shipped), a `.env` holding a freshly
generated `DIGEST_SECRET` (mode 600, never overwritten: a new secret would
break every unsubscribe link already mailed), systemd units (a timer-driven
`digest run` every 15 minutes, or the daemon) and a crontab line, all naming
that folder's config by its absolute path and the `digest` that ran `init`.
Relative paths in the config resolve against the folder (`digest.config`), so
the units and the cron line work from any working directory.

Doesn't own: anything the files describe (that is the rest of digest), or
installing the units: that needs root, and the README says how.
"""

from __future__ import annotations

import getpass
import secrets
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest import bundled
from digest.config import load_settings
from digest.credentials import ENV_DKIM_KEY_FILE, ENV_SECRET, ENV_SMTP_PASSWORD
from digest.errors import DigestError
from digest.state.files import write_atomic

CONFIG_NAME = "digest.toml"
ENV_NAME = ".env"
RUN_SERVICE = "systemd/digest-run.service"
RUN_TIMER = "systemd/digest-run.timer"
DAEMON_SERVICE = "systemd/digest.service"
SERVE_SERVICE = "systemd/digest-serve.service"
CRON_NAME = "digest.cron"
LOG_NAME = "var/digest.log"  # where the cron line appends; systemd uses the journal
RUN_EVERY_MINUTES = 15


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    what: str  # one line for the person who ran `init`
    kept: bool = False  # it existed and was left as it was


def digest_command() -> list[str]:
    """How to start this very digest from anywhere: its console script, else `python -m`."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "digest" and argv0.is_file():
        return [str(argv0.absolute())]
    script = Path(sys.executable).parent / "digest"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "digest"]


def _systemd_quote(word: str) -> str:
    # systemd splits ExecStart= on spaces, honours "double quotes", and expands %.
    word = word.replace("%", "%%")
    if any(c in word for c in ' \t"\\'):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def _sh(path: Path) -> str:
    return shlex.quote(str(path))


def _exec(command: list[str]) -> str:
    return " ".join(_systemd_quote(w) for w in command)


def _env_text(now: datetime) -> str:
    return f"""\
# Secrets for digest, written by `digest init` on {now:%Y-%m-%d}. Never commit this file.
# digest reads it from the folder of its config file; the environment wins over it.

# Signs every reader's unsubscribe link. Changing it breaks the links already mailed.
{ENV_SECRET}={secrets.token_urlsafe(32)}

# Password for [smtp] username, when your relay needs AUTH.
# {ENV_SMTP_PASSWORD}=

# With [dkim] in digest.toml: the RSA private key (PEM), relative to this folder or absolute.
# {ENV_DKIM_KEY_FILE}=dkim.pem
"""


def _run_service(folder: Path, command: list[str], user: str) -> str:
    config = folder / CONFIG_NAME
    return f"""\
# digest: gather feeds, then publish the weekly issue when it is due.
# Started by digest-run.timer. Install (as root):
#   cp {_sh(folder / RUN_SERVICE)} {_sh(folder / RUN_TIMER)} /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now digest-run.timer
[Unit]
Description=digest: gather feeds, publish the weekly issue when due
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
User={user}
WorkingDirectory={_systemd_quote(str(folder))}
ExecStart={_exec([*command, "--config", str(config), "--log-format", "json", "run"])}
# 75: another digest process holds the publishing lock; the next run carries on.
# 3: stopped on request (systemctl stop, shutdown): the messages in flight were
# finished and committed, the rest goes out on the next run.
SuccessExitStatus=75 3
# SIGTERM: the messages in flight are finished and committed, then exit 3.
TimeoutStopSec=120
"""


def _run_timer() -> str:
    return f"""\
# Starts digest-run.service every {RUN_EVERY_MINUTES} minutes, and once at boot if a run was missed.
[Unit]
Description=digest: run every {RUN_EVERY_MINUTES} minutes

[Timer]
OnCalendar=*:0/{RUN_EVERY_MINUTES}
Persistent=true
RandomizedDelaySec=60

[Install]
WantedBy=timers.target
"""


def _daemon_service(folder: Path, command: list[str], user: str) -> str:
    config = folder / CONFIG_NAME
    return f"""\
# digest as a daemon: gathers every [schedule] gather_every, publishes at [digest] publish.
# Use this or digest-run.timer, not both (both together are safe, but pointless).
# Install (as root):
#   cp {_sh(folder / DAEMON_SERVICE)} /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now digest
[Unit]
Description=digest: gather feeds, publish the weekly issue
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={_systemd_quote(str(folder))}
ExecStart={_exec([*command, "--config", str(config), "--log-format", "json", "daemon"])}
Restart=on-failure
RestartSec=60
# SIGTERM: the message in flight is finished and committed, then exit 0.
KillSignal=SIGTERM
TimeoutStopSec=120

[Install]
WantedBy=multi-user.target
"""


def _serve_service(folder: Path, command: list[str], user: str) -> str:
    config = folder / CONFIG_NAME
    return f"""\
# digest serve: the readers' pages (subscribe, confirm, preferences, one-click
# unsubscribe) and the archive, on 127.0.0.1:8080 for your https proxy to forward to
# (see the README: [web] url, base_path, trusted_proxies).
# Install (as root):
#   cp {_sh(folder / SERVE_SERVICE)} /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now digest-serve
[Unit]
Description=digest: readers' pages (subscribe, preferences, unsubscribe)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
WorkingDirectory={_systemd_quote(str(folder))}
ExecStart={
        _exec(
            [
                *command,
                "--config",
                str(config),
                "--log-format",
                "json",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "8080",
            ]
        )
    }
Restart=on-failure
RestartSec=5
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
"""


def cron_line(folder: Path, command: list[str]) -> str:
    """The crontab line: `digest run` every 15 minutes, appending to var/digest.log."""
    args = " ".join(shlex.quote(w) for w in [*command, "--config", str(folder / CONFIG_NAME)])
    log = shlex.quote(str(folder / LOG_NAME))
    # cron treats an unescaped % as a line break.
    return f"*/{RUN_EVERY_MINUTES} * * * * {args} run >> {log} 2>&1".replace("%", "\\%")


def _cron_text(folder: Path, command: list[str]) -> str:
    return f"""\
# digest from cron: gather, then publish the weekly issue when due. Add it with
#   (crontab -l 2>/dev/null; cat {_sh(folder / CRON_NAME)}) | crontab -
# A run that finds another one publishing exits 75 and changes nothing.
{cron_line(folder, command)}
"""


def init_folder(folder: Path, *, force: bool = False, now: datetime | None = None) -> list[Written]:
    """Write a new install's files into `folder` (created if needed).

    Existing files are refused unless `force`; `.env` is never replaced, even then.
    Raises `DigestError` naming the files that exist, before writing anything.
    """
    now = now or datetime.now(UTC)
    folder = folder.expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise DigestError(
            f"{folder} exists and is not a folder",
            hint=f"digest init takes the folder to write into: digest init {folder.parent}",
        )
    command = digest_command()
    user = getpass.getuser()
    files = {
        CONFIG_NAME: (
            bundled.EXAMPLE_CONFIG.read_text(encoding="utf-8"),
            "the settings, commented: edit feeds, [smtp], [archive] base_url",
        ),
        RUN_SERVICE: (
            _run_service(folder, command, user),
            "systemd: gather, publish when due",
        ),
        RUN_TIMER: (_run_timer(), f"systemd: starts that run every {RUN_EVERY_MINUTES} minutes"),
        DAEMON_SERVICE: (_daemon_service(folder, command, user), "systemd: or the daemon"),
        SERVE_SERVICE: (
            _serve_service(folder, command, user),
            "systemd: the readers' pages (digest serve), for your https proxy",
        ),
        CRON_NAME: (_cron_text(folder, command), "or cron: the same run as one crontab line"),
    }
    existing = [name for name in files if (folder / name).exists()]
    if existing and not force:
        raise DigestError(
            f"{folder} already has {', '.join(existing)}",
            hint="pass --force to rewrite them (.env and its secret are kept either way)",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / LOG_NAME).parent.mkdir(exist_ok=True)
        written = []
        env = folder / ENV_NAME
        if env.exists():
            written.append(Written(env, f"kept: {ENV_SECRET} signs links already mailed", True))
        else:
            write_atomic(env, _env_text(now), mode=0o600)
            written.append(Written(env, f"secrets, mode 600: a fresh {ENV_SECRET}"))
        for name, (text, what) in files.items():
            write_atomic(folder / name, text)
            written.append(Written(folder / name, what))
    except OSError as e:
        raise DigestError(
            f"{e.filename or folder}: cannot write: {e.strerror}",
            hint="choose a folder you can write to",
        ) from e
    load_settings(folder / CONFIG_NAME)  # what we wrote must be a config digest accepts
    return written


def next_steps(folder: Path) -> list[str]:
    """What the person who ran `init` does next, as lines to print."""
    folder = folder.expanduser().absolute()
    config = shlex.quote(str(folder / CONFIG_NAME))
    digest = " ".join(shlex.quote(w) for w in digest_command())
    return [
        "next:",
        f"  1. edit {config}: your feeds, [smtp], and [archive] base_url, the public",
        f"     URL where {shlex.quote(str(folder / 'archive'))} is served",
        f"  2. {digest} --config {config} subscribers add you@example.com",
        f"  3. {digest} --config {config} gather && {digest} --config {config} preview",
        "  4. run it unattended with the systemd units or the cron line (see the comments",
        "     at the top of each file); inside the folder, plain `digest` finds digest.toml",
        *_root_warning(getpass.getuser(), folder),
    ]


def _root_warning(user: str, folder: Path) -> list[str]:
    """A word when the units were written to run as root: digest-serve answers the
    internet, and nothing digest does needs root."""
    if user != "root":
        return []
    return [
        "note: you ran init as root, so the units say User=root; digest needs no root",
        "      (digest-serve.service answers the internet): make a user of its own,",
        "      e.g. `useradd --system --no-create-home digest`, give it the folder",
        f"      (`chown -R digest: {shlex.quote(str(folder))}`) and set User=digest in the units",
    ]
