"""`digest inbox`: bounces, complaints and mailto unsubscribes that come back after
the SMTP session. Every fixture of tests/data/inbound classified as expected.tsv
says; then the real CLI on a real SQLite database, from a Maildir, an mbox and a
real pipe on standard input; hostile messages; the [inbox] IMAP settings."""

from __future__ import annotations

import getpass
import imaplib
import mailbox
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_SECRET

from digest.cli import main
from digest.config import Settings
from digest.errors import ConfigError
from digest.mail.inbound import MAX_RECIPIENTS, Kind, classify
from digest.state.store import Added, Store

DATA = Path(__file__).parent / "data" / "inbound"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# The subscribers whose tokens the fixtures carry, in the order that gives them
# their ids (tests/data/inbound/README.md), then addresses other fixtures name.
CAST = (
    "reader@example.org",
    "kenji@example.jp",
    "mei@example.com",
    "jiwoo@example.net",
    "priya@example.com",
    "wei@example.com",
    "sofia@example.net",
    "han@example.net",
    "aarav@example.com",
    "minato@example.jp",
)

WriteConfig = Callable[..., tuple[Path, Settings]]


def expected() -> list[tuple[str, str, tuple[str, ...], str, str]]:
    rows = []
    for line in (DATA / "expected.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, recipients, status, token = line.split("\t")
            found = () if recipients == "-" else tuple(recipients.split(","))
            rows.append((name, kind, found, "" if status == "-" else status, token))
    return rows


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- classification ------------------------------------------------------------------


def test_every_fixture_is_listed_and_there_are_twenty_or_more() -> None:
    listed = {row[0] for row in expected()}
    assert listed == {p.name for p in DATA.glob("*.eml")}
    assert len(listed) >= 20


@pytest.mark.parametrize(("name", "kind", "recipients", "status", "token"), expected())
def test_fixture_is_classified(
    name: str, kind: str, recipients: tuple[str, ...], status: str, token: str
) -> None:
    found = classify(fixture(name))
    assert (found.kind, found.recipients, found.status) == (kind, recipients, status)
    assert (found.token.partition(".")[0] or "-") == token
    assert found.key  # each message is handled once, by this key
    assert found.detail and "\n" not in found.detail


def test_key_is_the_message_id_else_a_hash_of_the_bytes() -> None:
    assert classify(fixture("qmail.eml")).key == "<1795388412.22140.qmail@mx.example.com>"
    bare = b"From: a@example.com\nSubject: hi\n\nno id\n"
    key = classify(bare).key
    assert key.startswith("sha256:") and key == classify(bare).key
    assert classify(bare + b"!").key != key


def test_mailbox_full_is_soft_even_with_a_5() -> None:
    found = classify(fixture("gmail-over-quota.eml"))
    assert (found.kind, found.status) == (Kind.SOFT_BOUNCE, "5.2.2")


# -- the command line on a real database --------------------------------------------


@pytest.fixture
def world(write_config: WriteConfig, secret: str, tmp_path: Path) -> Path:
    """A config (bounce_after = 2) and a database holding CAST, ids 1, 2, …"""
    path, settings = write_config("[delivery]\nbounce_after = 2\n")
    with Store(settings.storage_path) as store:
        for email in CAST:
            store.add_subscriber(email, "", NOW)
    return path


def maildir(folder: Path, messages: Iterable[bytes]) -> Path:
    box = mailbox.Maildir(folder, create=True)
    for raw in messages:
        box.add(raw)
    box.close()
    return folder


def inbox(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", str(config), "inbox", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def statuses(config: Path) -> dict[str, str]:
    with Store(config.parent / "db.sqlite3") as store:
        return {s.email: s.status for s in store.subscribers()}


def with_message_id(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new, 1)


def test_every_fixture_through_the_cli_then_again(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = maildir(tmp_path / "Maildir", (fixture(row[0]) for row in expected()))
    code, out = inbox(world, capsys, str(box))
    assert code == 0
    kinds = [row[1] for row in expected()]
    hard, soft = kinds.count("hard bounce"), kinds.count("soft bounce")
    ignored = kinds.count("auto-reply") + kinds.count("unrecognised")
    assert (
        f"inbox: {len(kinds)} messages: {hard} hard bounces, {soft} soft, 4 complaints, "
        f"3 unsubscribes, {ignored} ignored, 0 already handled"
    ) in out
    assert len(out.strip().splitlines()) >= len(kinds) + 1  # one line per message
    assert statuses(world) == {
        "reader@example.org": "active",  # one hard bounce of bounce_after = 2
        "kenji@example.jp": "complained",  # AOL: every address redacted, the token tells
        "mei@example.com": "complained",  # Outlook.com JMRP: no To: at all
        "jiwoo@example.net": "complained",
        "priya@example.com": "active",  # qmail: one hard bounce
        "wei@example.com": "unsubscribed",
        "sofia@example.net": "unsubscribed",
        "han@example.net": "active",
        "aarav@example.com": "active",  # mailbox full: soft
        "minato@example.jp": "active",  # delayed: soft
    }
    assert "stranger@example.com: not a subscriber" in out
    assert "the token does not verify" in out  # the forged unsubscribe
    # The database remembers what it handled, in words that name no address.
    with sqlite3.connect(world.parent / "db.sqlite3") as db:
        outcomes = [row[0] for row in db.execute("SELECT outcome FROM inbox_seen")]
    assert len(outcomes) == len(kinds) and not any("@" in o for o in outcomes)

    code, out = inbox(world, capsys, str(box))
    assert code == 0
    assert f"0 ignored, {len(kinds)} already handled" in out


def test_a_hard_bounce_counts_like_a_5xx_of_the_session(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(world.parent / "db.sqlite3") as store:
        reader = store.subscriber_by_email("reader@example.org")
        assert reader is not None
        # A 5xx refusal during a send of 2026-W47 (the delivery engine's call).
        store.delivery_failed("2026-W47", reader.id, NOW, "550 5.1.1", bounce_after=2)
    assert statuses(world)["reader@example.org"] == "active"
    box = maildir(tmp_path / "Maildir", [fixture("postfix-user-unknown.eml")])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "reader@example.org: marked bouncing" in out
    assert statuses(world)["reader@example.org"] == "bouncing"


def test_bounce_after_counts_distinct_bounces_and_each_message_once(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = fixture("exim-dsn.eml")
    again = first  # the same message delivered twice: handled once
    second = with_message_id(first, b"E1tNwQx-000G7b-0p@mx", b"E1tZZZZ-000G7b-0p@mx")
    box = maildir(tmp_path / "Maildir", [first, again])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "1 hard bounce," in out and "1 already handled" in out
    assert statuses(world)["han@example.net"] == "active"
    box = maildir(tmp_path / "Maildir2", [second])
    code, out = inbox(world, capsys, str(box))
    assert "han@example.net: marked bouncing" in out
    assert statuses(world)["han@example.net"] == "bouncing"


def test_soft_bounces_change_nothing(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = fixture("gmail-over-quota.eml")
    copies = [with_message_id(raw, b"6a9f3e2d.170a", f"6a9f3e2d.{n}".encode()) for n in range(5)]
    box = maildir(tmp_path / "Maildir", [*copies, fixture("postfix-delayed-mailbox-full.eml")])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "6 soft" in out and "nothing changes (still active)" in out
    assert statuses(world)["aarav@example.com"] == "active"
    assert statuses(world)["minato@example.jp"] == "active"


def test_a_complaint_suppresses_for_good(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = maildir(tmp_path / "Maildir", [fixture("aol-arf.eml")])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "kenji@example.jp: suppressed (complained)" in out
    with Store(world.parent / "db.sqlite3") as store:
        _, added = store.add_subscriber("kenji@example.jp", "", NOW)
    assert added is Added.SUPPRESSED  # an operator's add does not undo it


def test_the_token_names_the_reader_when_a_forwarder_rewrote_the_address(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = fixture("postfix-user-unknown.eml").replace(
        b"reader@example.org", b"r.alias@forwarder.example"
    )
    box = maildir(tmp_path / "Maildir", [raw])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "reader@example.org: bounce counted (still active)" in out


def test_a_report_whose_token_does_not_verify_changes_nothing(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = fixture("yahoo-arf.eml").replace(b"4.XFBjbAhjZEhfoYceDnWMSA", b"4.XFBjbAhjZEhfoYceDnWMSB")
    box = maildir(tmp_path / "Maildir", [raw])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "does not verify: not acted on" in out
    assert statuses(world)["jiwoo@example.net"] == "active"  # Original-Rcpt-To is not enough


def test_mailto_unsubscribe_needs_a_valid_token(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_token = b"From: reader@example.org\nSubject: unsubscribe\nMessage-ID: <n@x>\n\nplease\n"
    box = maildir(
        tmp_path / "Maildir",
        [fixture("unsubscribe-forged.eml"), no_token, fixture("unsubscribe-mailto.eml")],
    )
    code, out = inbox(world, capsys, str(box))
    assert code == 0
    assert statuses(world)["reader@example.org"] == "active"  # forged: nothing happened
    assert "an unsubscribe request with no token: not acted on" in out
    assert statuses(world)["wei@example.com"] == "unsubscribed"


def test_a_token_signed_with_another_secret_does_nothing(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "another-secret-0123456789-abcdef")
    box = maildir(tmp_path / "Maildir", [fixture("unsubscribe-mailto.eml")])
    code, out = inbox(world, capsys, str(box))
    assert code == 0 and "does not verify" in out
    assert statuses(world)["wei@example.com"] == "active"


def test_mbox_source(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path, create=True)
    for name in ("qmail.eml", "outlook-jmrp-arf.eml", "vacation-ja-iso2022jp.eml"):
        box.add(fixture(name))
    box.close()
    code, out = inbox(world, capsys, str(path))
    assert code == 0
    assert "inbox: 3 messages: 1 hard bounce, 0 soft, 1 complaint, 0 unsubscribes, 1 ignored" in out
    assert statuses(world)["mei@example.com"] == "complained"
    assert not path.with_name("bounces.mbox.lock").exists()  # its lock was released


def test_stdin_source_as_an_mta_pipe_gives_it(world: Path, tmp_path: Path) -> None:
    """A real pipe into `python -m digest inbox -`, as Postfix's local(8) or pipe(8)
    runs it: an mbox `From ` line in front of the message."""
    raw = b"From wei@example.com  Mon Nov 23 01:15:00 2026\n" + fixture("unsubscribe-mailto.eml")

    def pipe(data: bytes) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "digest", "--config", str(world), "inbox", "-"],
            input=data.decode("utf-8"),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "DIGEST_SECRET": TEST_SECRET},
            timeout=60,
            check=False,
        )

    done = pipe(raw)
    assert done.returncode == 0, done.stderr
    assert "stdin: unsubscribe: wei@example.com: unsubscribed" in done.stdout
    assert statuses(world)["wei@example.com"] == "unsubscribed"
    again = pipe(raw)
    assert again.returncode == 0 and "1 already handled" in again.stdout
    broken = pipe(b"Subject: =?utf-8?q?\x01\x02?=\n\n--\n")
    assert broken.returncode == 0 and "unrecognised" in broken.stdout  # a pipe never bounces it


# -- hostile input -------------------------------------------------------------------


def hostile_messages() -> dict[str, bytes]:
    big_body = b"x" * 80 + b"\n"
    recipients = b"".join(
        b"Final-Recipient: rfc822; r%d@example.com\nAction: failed\nStatus: 5.1.1\n\n" % n
        for n in range(1000)
    )
    return {
        "two megabytes": b"From: MAILER-DAEMON@example.com\nSubject: Undelivered "
        + b"A" * 1_000_000
        + b"\nMessage-ID: <big@x>\n\n"
        + big_body * 13_000,
        "broken MIME": b"From: mailer-daemon@example.com\nMessage-ID: <broken@x>\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b\n\n'
        b"--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        b"!!!not base64!!!\n--b\nContent-Type: text/plain; charset=x-no-such-charset\n\n"
        b"\xff\xfe\x00 550 5.1.1 user unknown \xe3\x81\n",
        "a thousand recipients": b"From: MAILER-DAEMON@example.com\nMessage-ID: <many@x>\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
        + recipients
        + b"--b--\n",
        "deep nesting": b"Message-ID: <deep@x>\n"
        + b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (n, n) for n in range(300)
        ),
        "nothing": b"",
        "binary": bytes(range(256)) * 64,
        "a megabyte of white space in the subject": b"Subject: unsubscribe"
        + b" " * 1_000_000
        + b"1.x y\n\n",
        "control characters": b"From: MAILER-DAEMON@example.com\nMessage-ID: <ctl@x>\n"
        b"Subject: Undeliverable\n\n550 5.1.1 \x1b[31mred\x1b[0m \xe2\x80\xae reversed "
        b"user unknown\n",
    }


@pytest.mark.parametrize("name", sorted(hostile_messages()))
def test_hostile_message_never_raises(name: str) -> None:
    started = time.perf_counter()
    found = classify(hostile_messages()[name])
    assert time.perf_counter() - started < 5
    assert found.key and len(found.recipients) <= MAX_RECIPIENTS
    assert not any(c in found.detail for c in "\n\r\x1b\u202e")


def test_a_dsn_naming_a_thousand_recipients_is_not_acted_on() -> None:
    found = classify(hostile_messages()["a thousand recipients"])
    assert found.kind is Kind.UNRECOGNISED and "1000 failed recipients" in found.detail


def test_hostile_messages_through_the_cli(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = statuses(world)
    messages = [*hostile_messages().values(), fixture("qmail.eml")]
    box = maildir(tmp_path / "Maildir", messages)
    code, out = inbox(world, capsys, str(box))
    assert code == 0
    assert f"inbox: {len(messages)} messages:" in out  # one line each, and the run went on
    assert "priya@example.com: bounce counted (still active)" in out
    assert "names 1000 failed recipients" in out
    assert statuses(world) == before


# -- sources that cannot be read -----------------------------------------------------


def test_a_source_that_cannot_be_read_exits_1(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = inbox(world, capsys, str(tmp_path / "nowhere"))
    assert code == 1 and "nowhere: does not exist" in out
    (tmp_path / "plain").mkdir()
    code, out = inbox(world, capsys, str(tmp_path / "plain"))
    assert code == 1 and "not a Maildir folder" in out
    (tmp_path / "one.eml").write_bytes(fixture("qmail.eml"))
    code, out = inbox(world, capsys, str(tmp_path / "one.eml"))
    assert code == 1 and "not an mbox file" in out and "digest inbox - <" in out


def test_inbox_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["inbox", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: digest inbox") and "Maildir" in out and "[inbox]" in out


# -- IMAP: the [inbox] settings ------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        ('username = "d"', "inbox.host", "missing: [inbox] needs a host"),
        ('host = "imap.example.com"', "inbox.username", "missing"),
        ('host = "h"\nusername = "d"\nport = 0', "inbox.port", "not a TCP port"),
        ('host = "h"\nusername = "d"\nport = "993"', "inbox.port", "expected an integer"),
        ('host = "h"\nusername = "d"\ntimeout = 0', "inbox.timeout", ""),
        ('host = "h"\nusername = "d"\nfolder = "受信箱"', "inbox.folder", "IMAP folder name"),
        ('host = "h"\nusername = "d"\nhots = "x"', "inbox.hots", "unknown key"),
    ],
)
def test_inbox_settings_errors_name_the_key_and_the_file(
    write_config: WriteConfig, table: str, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as info:
        write_config(f"[inbox]\n{table}\n")
    message = str(info.value)
    assert f"digest.toml: {key}:" in message and says in message


def test_inbox_settings_defaults(write_config: WriteConfig) -> None:
    _, settings = write_config('[inbox]\nhost = "imap.example.com"\nusername = "digest"\n')
    assert settings.inbox is not None
    assert (settings.inbox.port, settings.inbox.folder, settings.inbox.timeout) == (
        993,
        "INBOX",
        30.0,
    )
    _, settings = write_config("")
    assert settings.inbox is None


def test_no_source_and_no_inbox_table_is_a_config_error(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = inbox(world, capsys)
    assert code == 2 and "inbox: missing" in out and "hint:" in out


def test_imap_without_its_password_is_refused(
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DIGEST_IMAP_PASSWORD", raising=False)
    path, _ = write_config('[inbox]\nhost = "127.0.0.1"\nusername = "digest"\n')
    code, out = inbox(path, capsys)
    assert code == 2 and "DIGEST_IMAP_PASSWORD is not set" in out


def test_imap_server_that_does_not_answer_exits_1(
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "pw")
    path, _ = write_config(
        f'[inbox]\nhost = "127.0.0.1"\nport = {port}\nusername = "digest"\ntimeout = 5\n'
    )
    code, out = inbox(path, capsys)
    assert code == 1 and f"127.0.0.1:{port}: cannot connect" in out


# -- IMAP against a real server: Dovecot on 127.0.0.1, when it is installed ----------

DOVECOT = shutil.which("dovecot", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
IMAP_PASSWORD = "imap-test-password"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP SAN), trusted by the test via SSL_CERT_FILE."""
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def dovecot() -> Iterator[tuple[int, Path]]:
    """A Dovecot of our own (its own config, folders and port), IMAP over TLS only,
    one user `digest` whose password is IMAP_PASSWORD. Yields (port, certificate)."""
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    # Outside tmp_path: Dovecot's own users must reach the mail folders.
    folder = Path(tempfile.mkdtemp(prefix="digest-imap-"))
    folder.chmod(0o755)
    try:
        cert, key = _self_signed(folder)
        (folder / "home").mkdir()
        if os.geteuid() == 0:  # Debian's package made these users
            internal, login, owner = "dovecot", "dovenull", "dovecot"
            shutil.chown(folder / "home", owner, owner)
        else:
            internal = login = owner = getpass.getuser()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        (folder / "dovecot.conf").write_text(
            f"base_dir = {folder}/run\nstate_dir = {folder}/state\n"
            f"log_path = {folder}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n"
            f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\n"
            f"default_internal_user = {internal}\ndefault_login_user = {login}\n"
            "first_valid_uid = 1\nauth_mechanisms = plain\n"
            f"passdb {{\n  driver = static\n  args = password={IMAP_PASSWORD}\n}}\n"
            f"userdb {{\n  driver = static\n  args = uid={owner} gid={owner} "
            f"home={folder}/home/%u\n}}\nmail_location = maildir:~/Maildir\n"
            "service imap-login {\n  chroot =\n  inet_listener imap {\n    port = 0\n  }\n"
            f"  inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n"
            "service anvil {\n  chroot =\n}\n"
        )
        server = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(folder / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    log = folder / "dovecot.log"
                    if server.poll() is not None or time.monotonic() > deadline:
                        why = log.read_text() if log.exists() else "no log"
                        if os.geteuid() == 0:
                            pytest.fail(f"dovecot did not start: {why}")
                        pytest.skip(f"dovecot did not start as a normal user: {why}")
                    time.sleep(0.1)
            yield port, cert
        finally:
            server.terminate()
            server.wait(15)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def imap_client(port: int, cert: Path) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL(
        "127.0.0.1", port, ssl_context=ssl.create_default_context(cafile=str(cert)), timeout=10
    )
    client.login("digest", IMAP_PASSWORD)
    client.select("INBOX")
    return client


@pytest.mark.network
def test_imap_inbox_against_a_real_server(
    dovecot: tuple[int, Path],
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, cert = dovecot
    names = [
        "postfix-user-unknown.eml",
        "aol-arf.eml",
        "unsubscribe-mailto.eml",
        "outlook-out-of-office.eml",
        "human-reply.eml",
    ]
    client = imap_client(port, cert)
    for name in names:
        client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), fixture(name))
    client.logout()
    path, settings = write_config(
        f'[inbox]\nhost = "127.0.0.1"\nport = {port}\nusername = "digest"\ntimeout = 10\n'
    )
    with Store(settings.storage_path) as store:
        for email in CAST:
            store.add_subscriber(email, "", NOW)
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", IMAP_PASSWORD)

    # The system's trust store does not know this certificate: refused.
    monkeypatch.setenv("SSL_CERT_FILE", str(path.parent / "no-such-ca.pem"))
    code, out = inbox(path, capsys)
    assert code == 1 and "TLS failed" in out and "SSL_CERT_FILE" in out

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    code, out = inbox(path, capsys)
    assert code == 0, out
    assert "inbox: 5 messages: 1 hard bounce, 0 soft, 1 complaint, 1 unsubscribe, 2 ignored" in out
    assert "uid 1: hard bounce 5.1.1: reader@example.org: bounce counted" in out
    assert statuses(path)["kenji@example.jp"] == "complained"
    assert statuses(path)["wei@example.com"] == "unsubscribed"

    # Handled mail is flagged \Seen; the reader's reply is left unread for a person.
    client = imap_client(port, cert)
    unseen = client.uid("SEARCH", "UNSEEN")[1][0].split()
    seen = client.uid("SEARCH", "SEEN")[1][0].split()
    client.logout()
    assert unseen == [b"5"] and len(seen) == 4

    code, out = inbox(path, capsys)
    assert code == 0 and "inbox: 1 message:" in out and "1 already handled" in out

    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", "wrong")
    code, out = inbox(path, capsys)
    assert code == 1 and "login as 'digest' refused" in out
    monkeypatch.setenv("DIGEST_IMAP_PASSWORD", IMAP_PASSWORD)
    path.write_text(path.read_text().replace("timeout = 10", 'timeout = 10\nfolder = "Bounces"'))
    code, out = inbox(path, capsys)
    assert code == 1 and "cannot open folder 'Bounces'" in out
