"""The loopback SMTP sink's fault injection and counting, against a real smtplib client."""

from __future__ import annotations

import json
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.loopback.mailsink import TRY_AGAIN, Faults, SinkProcess, SmtpSink

pytestmark = pytest.mark.network

SENDER = "digest@example.com"


def message(n: int, size: int = 0) -> bytes:
    body = b"\r\n".join(b"x" * 76 for _ in range(size // 78))  # ~size bytes in short lines
    return (
        f"From: {SENDER}\r\nTo: r{n}@example.org\r\nSubject: {n}\r\n"
        f"Message-ID: <{n}.bench@example.com>\r\n\r\n".encode()
        + b"hello\r\n"
        + body
        + b"\r\n"
    )


def send_each(sink_port: int, count: int) -> dict[str, str]:
    """Send one message to each of r0..r{count-1}: address → "sent" | "rcpt 451" | ..."""
    outcome: dict[str, str] = {}
    conn = smtplib.SMTP("127.0.0.1", sink_port, timeout=5)
    try:
        for n in range(count):
            address = f"r{n}@example.org"
            try:
                conn.sendmail(SENDER, [address], message(n))
                outcome[address] = "sent"
            except smtplib.SMTPRecipientsRefused as e:
                code, reply = e.recipients[address]
                outcome[address] = f"rcpt {code} {reply.decode()}"
            except smtplib.SMTPDataError as e:
                outcome[address] = f"data {e.smtp_code} {e.smtp_error.decode()}"
    finally:
        conn.quit()
    return outcome


def test_rates_are_applied_and_fixed_by_the_seed() -> None:
    with SmtpSink(keep=False, rcpt_rate=0.2, data_rate=0.1, seed=7) as sink:
        first = send_each(sink.port, 400)
        stats = sink.stats()
        counts = sink.counts()
    rcpt = [a for a, o in first.items() if o.startswith("rcpt")]
    data = [a for a, o in first.items() if o.startswith("data")]
    assert all(first[a] == f"rcpt {TRY_AGAIN}" for a in rcpt)
    assert all(first[a] == f"data {TRY_AGAIN}" for a in data)
    # 400 RCPT at 20 %; the 10 % of DATA applies to the ~320 that got past RCPT.
    assert 50 <= len(rcpt) <= 110
    assert 15 <= len(data) <= 55
    assert stats.rcpt_refused == len(rcpt) and stats.data_refused == len(data)
    sent = {a for a, o in first.items() if o == "sent"}
    assert set(counts) == sent and all(n == 1 for n in counts.values())
    assert stats.accepted == len(sent)

    # The same seed refuses the same commands again; another seed, others.
    with SmtpSink(keep=False, rcpt_rate=0.2, data_rate=0.1, seed=7) as sink:
        assert send_each(sink.port, 400) == first
    with SmtpSink(keep=False, rcpt_rate=0.2, data_rate=0.1, seed=8) as sink:
        assert send_each(sink.port, 400) != first


def test_a_retry_gets_a_fresh_roll() -> None:
    """The k-th attempt for an address is rolled anew: retries eventually pass."""
    with SmtpSink(keep=False, rcpt_rate=0.5, seed=1) as sink:
        conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
        tries = 0
        while True:
            tries += 1
            try:
                conn.sendmail(SENDER, ["same@example.org"], message(0))
                break
            except smtplib.SMTPRecipientsRefused:
                assert tries < 40
        conn.quit()
        assert sink.counts() == {"same@example.org": 1}
        assert sink.stats().rcpt_refused == tries - 1


def test_faults_can_be_changed_on_a_running_sink(smtp_sink: SmtpSink) -> None:
    smtp_sink.faults(rcpt_rate=1.0)
    assert set(send_each(smtp_sink.port, 3).values()) == {f"rcpt {TRY_AGAIN}"}
    smtp_sink.faults()
    assert set(send_each(smtp_sink.port, 3).values()) == {"sent"}
    with pytest.raises(ValueError):
        Faults(rcpt_rate=1.5)


@pytest.mark.parametrize("fast_data", [False, True])
def test_drop_closes_after_the_data_without_a_reply_and_keeps_the_message(
    fast_data: bool,
) -> None:
    with SmtpSink(drop_every=3, fast_data=fast_data) as sink:
        conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
        conn.sendmail(SENDER, ["r0@example.org"], message(0))
        conn.sendmail(SENDER, ["r1@example.org"], message(1))
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            conn.sendmail(SENDER, ["r2@example.org"], message(2, size=200_000))
        # A disconnect, not a timeout: the client was not left waiting for a reply.
        assert time.monotonic() - started < 2
        conn.close()
        # The message whose reply never came did arrive, whole.
        assert sink.counts() == {f"r{n}@example.org": 1 for n in range(3)}
        dropped = [r for r in sink.receipts if r.dropped]
        assert [(r.recipient, r.message_id) for r in dropped] == [
            ("r2@example.org", "<2.bench@example.com>")
        ]
        assert sink.received[-1].data == message(2, size=200_000)
        assert sink.stats().dropped == 1 and sink.stats().accepted == 2
        # The sink goes on serving new connections.
        assert send_each(sink.port, 2) == {"r0@example.org": "sent", "r1@example.org": "sent"}
        assert sink.counts()["r0@example.org"] == 2


@pytest.mark.parametrize("fast_data", [False, True])
def test_the_raw_socket_sees_no_reply_after_the_data(fast_data: bool) -> None:
    """Below smtplib: after "<CRLF>.<CRLF>" the next thing read is end of stream."""
    with (
        SmtpSink(drop_every=1, fast_data=fast_data) as sink,
        socket.create_connection((sink.host, sink.port)) as s,
    ):
        reader = s.makefile("rb")
        assert reader.readline().startswith(b"220")
        for line in (b"EHLO me", f"MAIL FROM:<{SENDER}>".encode(), b"RCPT TO:<r0@example.org>"):
            s.sendall(line + b"\r\n")
            reply = reader.readline()
            while reply[3:4] == b"-":
                reply = reader.readline()
            assert reply.startswith(b"250"), reply
        s.sendall(b"DATA\r\n")
        assert reader.readline().startswith(b"354")
        s.sendall(message(0) + b".\r\n")
        assert reader.read() == b""  # closed, and no reply line before that
        assert sink.counts() == {"r0@example.org": 1}


@pytest.mark.parametrize("fast_data", [False, True])
def test_counts_and_keep_false_store_no_bytes(fast_data: bool) -> None:
    with SmtpSink(keep=False, fast_data=fast_data) as sink:
        conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
        for n in (0, 1, 1, 2):
            conn.sendmail(SENDER, [f"r{n}@example.org"], message(n, size=90_000))
        conn.sendmail(SENDER, ["a@example.org", "b@example.org"], message(9))
        conn.quit()
        assert sink.received == []
        assert sink.counts() == {
            "r0@example.org": 1,
            "r1@example.org": 2,
            "r2@example.org": 1,
            "a@example.org": 1,
            "b@example.org": 1,
        }
        first = sink.receipts[0]
        assert first.message_id == "<0.bench@example.com>"
        assert first.size == len(message(0, size=90_000)) and not first.dropped
        assert sink.stats().accepted == 5
        sink.reset()
        assert sink.counts() == {} and sink.receipts == []


def test_keep_true_is_still_the_default(smtp_sink: SmtpSink) -> None:
    send_each(smtp_sink.port, 2)
    assert [r.rcpt_tos for r in smtp_sink.received] == [
        ("r0@example.org",),
        ("r1@example.org",),
    ]
    assert smtp_sink.sessions == 1


def test_sink_in_its_own_process() -> None:
    with SinkProcess(keep=False, drop_every=4, data_rate=0.0) as sink:
        assert sink.pid is not None
        conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
        for n in range(3):
            conn.sendmail(SENDER, [f"r{n}@example.org"], message(n))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            conn.sendmail(SENDER, ["r3@example.org"], message(3))
        conn.close()
        assert sink.counts() == {f"r{n}@example.org": 1 for n in range(4)}
        assert sink.stats().dropped == 1
        assert [r.dropped for r in sink.receipts()] == [False, False, False, True]
        sink.faults(rcpt_rate=1.0)
        assert set(send_each(sink.port, 2).values()) == {f"rcpt {TRY_AGAIN}"}
        sink.reset()
        assert sink.counts() == {}


def test_command_line_sink_writes_its_counts(tmp_path: Path) -> None:
    stats_file = tmp_path / "stats.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digest.loopback.mailsink",
            "--drop-every",
            "2",
            "--stats-file",
            stats_file,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        conn = smtplib.SMTP("127.0.0.1", port, timeout=5)
        conn.sendmail(SENDER, ["r0@example.org"], message(0))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            conn.sendmail(SENDER, ["r1@example.org"], message(1))
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    payload = json.loads(stats_file.read_text())
    assert payload["counts"] == {"r0@example.org": 1, "r1@example.org": 1}
    assert payload["stats"]["dropped"] == 1 and payload["stats"]["accepted"] == 1


def test_fast_data_receives_exactly_what_aiosmtpd_receives() -> None:
    """Dot-stuffing undone, CRLF kept, empty lines and a lone "." line survive."""
    tricky = (
        b"Message-ID: <t@example.com>\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n"
        b"\r\n\r\nlast line without a newline"
    )
    bodies = {}
    for fast in (False, True):
        with SmtpSink(fast_data=fast) as sink:
            conn = smtplib.SMTP(sink.host, sink.port, timeout=5)
            conn.sendmail(SENDER, ["a@example.org"], tricky)
            conn.sendmail(SENDER, ["b@example.org"], message(1, size=300_000))
            conn.sendmail(SENDER, ["c@example.org"], b"")
            conn.quit()
            bodies[fast] = [r.data for r in sink.received]
    assert bodies[True] == bodies[False]
    assert bodies[True][0].endswith(b"\r\n.\r\n\r\n\r\nlast line without a newline\r\n")
    assert b"\r\n.starts with a dot\r\n..two dots\r\n" in bodies[True][0]


def raw_session(port: int, until: bytes) -> tuple[list[bytes], bytes]:
    """Speak SMTP over a raw socket up to and including the command `until` (or the
    final "." for b"."); return the reply lines read, and what follows them."""
    replies: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port)) as s, s.makefile("rb") as reader:
        replies.append(reader.readline())
        if until == b"greeting":
            return replies, reader.read()
        script = [
            b"EHLO me",
            f"MAIL FROM:<{SENDER}>".encode(),
            b"RCPT TO:<r0@example.org>",
            b"DATA",
            message(0) + b".",
        ]
        for line in script:
            s.sendall(line + b"\r\n")
            reply = reader.readline()
            while reply[3:4] == b"-":
                reply = reader.readline()
            replies.append(reply)
            if line.split(b" ")[0].split(b":")[0] == until or (
                until == b"." and line is script[-1]
            ):
                return replies, reader.read()
            if not reply.startswith((b"250", b"354")):
                break
    raise AssertionError(f"never reached {until!r}: {replies}")


@pytest.mark.parametrize("fast_data", [False, True])
@pytest.mark.parametrize(
    ("stage", "command"),
    [
        ("greeting", b"greeting"),
        ("ehlo", b"EHLO"),
        ("mail", b"MAIL"),
        ("rcpt", b"RCPT"),
        ("data", b"DATA"),
        ("dot", b"."),
    ],
)
def test_close_at_answers_421_and_hangs_up_at_that_stage(
    fast_data: bool, stage: str, command: bytes
) -> None:
    with SmtpSink(fast_data=fast_data, close_at=stage, close_count=1) as sink:
        replies, rest = raw_session(sink.port, command)
        assert replies[-1].startswith(b"421 4.3.2"), replies
        assert rest == b""  # closed after the 421
        assert not sink.counts()  # nothing kept
        assert sink.stats().closed == 1
        assert send_each(sink.port, 1) == {"r0@example.org": "sent"}  # only the first time


def test_dot_delay_keeps_the_message_before_or_after_the_wait() -> None:
    with SmtpSink(dot_delay=(0.2, 0.2), late_commit_rate=0.0) as sink:
        t0 = time.monotonic()
        assert send_each(sink.port, 1) == {"r0@example.org": "sent"}
        assert time.monotonic() - t0 >= 0.2
    for late, kept in ((0.0, 1), (1.0, 0)):
        with SmtpSink(dot_delay=(0.5, 0.5), late_commit_rate=late) as sink:
            with (
                socket.create_connection((sink.host, sink.port)) as s,
                s.makefile("rb") as reader,
            ):
                reader.readline()
                for line in (b"HELO me", f"MAIL FROM:<{SENDER}>".encode(), b"RCPT TO:<r@x.org>"):
                    s.sendall(line + b"\r\n")
                    reader.readline()
                s.sendall(b"DATA\r\n")
                reader.readline()
                s.sendall(message(0) + b".\r\n")
                time.sleep(0.1)  # the sender dies while the sink waits
            time.sleep(0.6)
            assert sum(sink.counts().values()) == kept


def test_fault_plans_are_checked() -> None:
    with pytest.raises(ValueError, match="close_at"):
        Faults(close_at="quit")
    with pytest.raises(ValueError, match="dot_delay"):
        Faults(dot_delay=(0.5, 0.1))
    with pytest.raises(ValueError, match="late_commit_rate"):
        Faults(late_commit_rate=2.0)
