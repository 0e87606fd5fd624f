"""SMTP faults, through `digest send` as a person runs it, against the real aiosmtpd
sink on 127.0.0.1 (which injects them) and a real SQLite ledger.

Each case asserts what the user sees (the summary's counts line, the error line,
the exit code) and the ledger's truth: nobody missing without being named,
nothing sent twice beyond the recorded unknowns, no row left `handed`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgerworld import SECRET, WEEK, World, cli, cli_process, counts_line, make_world, send

from digest.loopback.mailsink import SmtpSink

pytestmark = pytest.mark.network

CLOSING = "421 4.3.2 service not available, closing transmission channel"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def counts(
    sent: int = 0,
    failed: int = 0,
    deferred: int = 0,
    unknown: int = 0,
    resent: int = 0,
    already: int = 0,
) -> str:
    return (
        f"{WEEK}: sent {sent}, failed {failed}, deferred {deferred}, unknown {unknown}, "
        f"resent after no reply {resent}, already sent earlier {already}, "
        "unsubscribed meanwhile 0"
    )


def error_line(err: str) -> str:
    """The one line digest prints for an error (aiosmtpd may log lines of its own)."""
    lines = [line for line in err.splitlines() if line.startswith("digest: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def assert_nobody_lost(world: World, sink: SmtpSink, out: str) -> None:
    """Every reader got the issue, or is named by the output as unknown or failed;
    extra copies only for rows that recorded an unknown; no row left in flight."""
    got = sink.counts()
    with world.store() as store:
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
    for email in world.emails:
        if got.get(email, 0) == 0 and rows[email].status not in ("pending", "deferred"):
            assert f" {email}: " in out, f"{email} missing and not named"
    for email, n in got.items():
        assert n - 1 <= rows[email].unknowns, (
            f"{email}: {n} copies, {rows[email].unknowns} unknowns"
        )
    assert not {r.status for r in rows.values()} & {"handed", "sending"}


# -- 421 in reply to the final "." ---------------------------------------------


def test_a_421_to_the_final_dot_is_retried_on_a_new_connection_and_counted(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bug of issue 11: the row stayed `handed` and the summary said `sent 19`."""
    world = make_world(tmp_path, sink.port, 20)
    sink.faults(close_at="dot", close_count=1)
    code, out, _ = send(world, capsys)
    assert code == 0
    assert counts_line(out) == counts(sent=20)
    assert "421 in reply to the end of data 1 time(s)" in out
    assert set(world.rows().values()) == {"sent"}
    assert sink.counts() == {e: 1 for e in world.emails}
    assert sink.stats().closed == 1 and sink.sessions == 2
    code, out, _ = send(world, capsys)  # a rerun: every one of them was sent, by the ledger
    assert (code, counts_line(out)) == (0, counts(already=20))


def test_a_421_to_every_final_dot_defers_the_message_and_stops_the_run(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 5)
    sink.faults(close_at="dot")
    code, out, err = send(world, capsys)
    assert code == 1
    assert counts_line(out) == counts(deferred=1)
    assert f"  deferred r000@example.com: {CLOSING}" in out
    assert error_line(err).startswith(
        f"digest: error: smtp://127.0.0.1:{sink.port} (none): answered 421 3 times in a row "
        f"while sending to r000@example.com: {CLOSING}"
    )
    rows = world.rows()
    assert rows["r000@example.com"] == "deferred"
    assert {rows[e] for e in world.emails[1:]} == {"pending"}  # a rerun resumes
    assert not sink.counts()
    sink.faults()
    code, out, _ = send(world, capsys)  # the relay is back: the others go out now
    assert (code, counts_line(out)) == (0, counts(sent=4))
    assert world.rows()["r000@example.com"] == "deferred"  # until its retry time


def test_a_repeated_421_to_the_final_dot_fails_the_message_when_out_of_attempts(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 3, delivery="connections = 1\nmax_attempts = 2")
    sink.faults(close_at="dot", close_count=2)
    code, out, _ = send(world, capsys)
    assert code == 1
    assert counts_line(out) == counts(sent=2, failed=1)
    assert (
        f"  failed   r000@example.com: gave up after 2 temporary refusals; last: {CLOSING}" in out
    )
    assert "1 reader(s) may not have the issue" in out
    assert_nobody_lost(world, sink, out)


# -- 421 at each other stage -----------------------------------------------------


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
def test_a_421_before_the_handover_is_retried_at_once(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str], stage: str
) -> None:
    world = make_world(tmp_path, sink.port, 6)
    sink.faults(close_at=stage, close_count=2)
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(sent=6))
    assert sink.counts() == {e: 1 for e in world.emails}
    assert sink.stats().closed == 2 and sink.sessions == 3


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
def test_a_421_at_every_command_stops_the_run_and_fails_nobody(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str], stage: str
) -> None:
    world = make_world(tmp_path, sink.port, 4)
    sink.faults(close_at=stage)
    code, out, err = send(world, capsys)
    assert code == 1
    assert counts_line(out) == counts()
    assert error_line(err).startswith(
        f"digest: error: smtp://127.0.0.1:{sink.port} (none): connection lost 3 times in a row "
        f"while sending to r000@example.com: {CLOSING}"
    )
    assert set(world.rows().values()) == {"pending"}


@pytest.mark.parametrize("stage", ["greeting", "ehlo"])
def test_a_421_session_refusal_stops_the_run_and_fails_nobody(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str], stage: str
) -> None:
    world = make_world(tmp_path, sink.port, 4)
    sink.faults(close_at=stage)
    code, out, err = send(world, capsys)
    assert code == 1
    assert counts_line(out) == counts()
    assert error_line(err).startswith(
        f"digest: error: smtp://127.0.0.1:{sink.port} (none): cannot connect: "
    )
    assert "421" in err
    assert set(world.rows().values()) == {"pending"}
    sink.faults()
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(sent=4))


def test_one_refused_session_of_two_leaves_the_other_to_finish(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 10, delivery="connections = 2")
    sink.faults(close_at="greeting", close_count=1)
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(sent=10))
    assert sink.counts() == {e: 1 for e in world.emails}


# -- other replies ------------------------------------------------------------------


def test_451_defers_and_exits_0(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 4)
    sink.refuse("r001@example.com", "451 4.7.1 greylisted, try again later")
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(sent=3, deferred=1))
    assert "  deferred r001@example.com: 451 4.7.1 greylisted, try again later" in out
    assert world.rows()["r001@example.com"] == "deferred"


def test_451_to_every_final_dot_defers_everyone(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 3)
    sink.faults(data_rate=1.0)
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(deferred=3))
    assert set(world.rows().values()) == {"deferred"}
    assert not sink.counts()


def test_550_fails_names_the_reader_every_time_until_settled(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 3)
    sink.refuse("r001@example.com", "550 5.1.1 no such user")
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (1, counts(sent=2, failed=1))
    named = "  failed   r001@example.com: 550 5.1.1 no such user"
    assert out.count(named) == 1  # listed once, not twice
    code, out, _ = send(world, capsys)  # a rerun: failed is never "already sent"
    assert (code, counts_line(out)) == (1, counts(already=2))
    assert named in out and "1 reader(s) may not have the issue" in out
    assert cli(world, "deliveries", "settle", "--week", WEEK, "r001@example.com",
               "--reason", "address gone") == 0  # fmt: skip
    assert f"{WEEK}: 1 message(s) settled: address gone" in capsys.readouterr().out
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(already=2))
    assert "r001" not in out


def test_535_stops_the_run_and_fails_nobody(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
    with SmtpSink(login=("digest", "right")) as sink:
        world = make_world(tmp_path, sink.port, 3, smtp_extra='username = "digest"')
        code, out, err = send(world, capsys)
    assert code == 1
    assert counts_line(out) == counts()
    assert error_line(err).startswith(
        f"digest: error: smtp://127.0.0.1:{sink.port} (none): authentication failed: 535"
    )
    assert "hint: check [smtp] username and DIGEST_SMTP_PASSWORD" in err
    assert set(world.rows().values()) == {"pending"}


def test_smtp_down_stops_the_run_and_fails_nobody(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a free port: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    world = make_world(tmp_path, port, 3, delivery="connections = 2")
    code, out, err = send(world, capsys)
    assert code == 1
    assert counts_line(out) == counts()
    assert error_line(err).startswith(
        f"digest: error: smtp://127.0.0.1:{port} (none): cannot connect: "
    )
    assert "hint: check [smtp] host, port and security" in err
    assert set(world.rows().values()) == {"pending"}


# -- the ack gap: no reply to the final "." --------------------------------------


def test_no_reply_twice_is_unknown_named_and_never_already_sent(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 1)
    sink.faults(drop_every=1)  # every message: kept, then the connection closes unanswered
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (1, counts(unknown=1, resent=1))
    named = "  unknown  r000@example.com: no reply: "
    assert named in out and out.count("r000@example.com") == 1
    assert sink.counts() == {"r000@example.com": 2}  # one extra copy, recorded twice
    assert_nobody_lost(world, sink, out)
    code, out, _ = send(world, capsys)  # later runs: still named, never "already sent"
    assert (code, counts_line(out)) == (1, counts())
    assert named in out
    assert sink.counts() == {"r000@example.com": 2}  # and never sent a third time


def test_an_ack_gap_among_many_loses_nobody(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 30, delivery="connections = 3")
    sink.faults(drop_every=7)
    code, out, _ = send(world, capsys)
    assert len(sink.counts()) == 30  # each dropped message was kept by the sink, then resent
    assert_nobody_lost(world, sink, out)
    line = counts_line(out)
    assert line.startswith(f"{WEEK}: sent ") and "already sent earlier 0" in line
    assert code == (1 if "unknown 0" not in line else 0)


# -- two instances, and nobody to send to ----------------------------------------------


def test_two_instances_sending_at_once_publish_once(tmp_path: Path) -> None:
    with SmtpSink(dot_delay=(0.05, 0.05)) as sink:  # the first holds the lock a while
        world = make_world(tmp_path, sink.port, 20)
        first = cli_process(world, "send", "--week", WEEK)
        deadline = time.monotonic() + 60
        while not sink.counts() and time.monotonic() < deadline:
            time.sleep(0.01)
        second = cli_process(world, "send", "--week", WEEK)
        _, second_err = second.communicate(timeout=60)
        first_out, _ = first.communicate(timeout=60)
    assert second.returncode == 75
    assert b"digest: error:" in second_err and b"another digest process" in second_err
    assert first.returncode == 0
    assert counts_line(first_out.decode()) == counts(sent=20)
    assert sink.counts() == {e: 1 for e in world.emails}


def test_send_to_nobody_says_so_exits_1_and_does_not_mark_the_issue_sent(
    sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path, sink.port, 0)
    code, out, _ = send(world, capsys)
    assert code == 1
    assert (
        f"{WEEK}: no active subscribers: nothing sent, and the issue is not marked sent "
        "(add subscribers, then send again)"
    ) in out
    with world.store() as store:
        assert store.issue_sent_at(WEEK) is None and store.issue_frozen_at(WEEK) is None
    assert cli(world, "subscribers", "add", "late@example.com") == 0
    code, out, _ = send(world, capsys)
    assert (code, counts_line(out)) == (0, counts(sent=1))
    with world.store() as store:
        assert store.issue_sent_at(WEEK) is not None
