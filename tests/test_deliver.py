"""Delivery against a real SMTP server on 127.0.0.1 (aiosmtpd), with a real ledger.

Replies are decided by the sink: refusals for chosen addresses, seeded 451s,
connections dropped after the data. The clock is fake where backoff matters.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.config import DeliverySettings, Settings
from digest.errors import DeliveryError
from digest.loopback.mailsink import SmtpSink
from digest.mail.compose import PreparedIssue, compose, prepare
from digest.mail.deliver import DeliveryReport, RateLimit, backoff, deliver
from digest.mail.transport import make_transport
from digest.models import Subscriber
from digest.render.issue import UNSUBSCRIBE_PLACEHOLDER, RenderedIssue, personalize
from digest.state.store import Store

pytestmark = pytest.mark.network

WEEK = "2026-W47"
KEY = b"k" * 32
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

HTML = (
    "<!DOCTYPE html>\n<html lang='ja'><body><h1>アジアAIハブ週報</h1>\n"
    + "<p style='color:#333'>サムスン電子がソウルにAI研究所を開設。" * 40
    + f"</p>\n<a href='{UNSUBSCRIBE_PLACEHOLDER}'>配信停止</a>\n.\n</body></html>\n"
)
TEXT = (
    "アジアAIハブ週報\n"
    + "韓国: サムスン電子がAI研究所\n" * 30
    + f"配信停止: {UNSUBSCRIBE_PLACEHOLDER}\n"
)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def smtp_config(sink: SmtpSink | int, delivery: str = "") -> str:
    port = sink if isinstance(sink, int) else sink.port
    return (
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "アジアAIハブ週報 <digest@example.com>"\n'
        f"[delivery]\n{delivery}\n"
    )


def rendered() -> RenderedIssue:
    return RenderedIssue(
        subject="アジアAIハブ週報 #1 · 11月16日〜22日",
        html_email=HTML,
        html_web=HTML,
        text=TEXT,
        preheader="",
    )


def subscribe(store: Store, count: int, domain: str = "example.com") -> list[int]:
    return [store.add_subscriber(f"r{n:03d}@{domain}", "", T0)[0].id for n in range(count)]


def run(
    settings: Settings,
    store: Store,
    clock: Clock | None = None,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    prepared = prepare(WEEK, rendered(), settings)
    return deliver(
        store,
        prepared,
        lambda: make_transport(settings, _no_secrets()),
        KEY,
        clock or Clock(),
        settings.delivery,
        stop=stop,
        progress=progress,
    )


def _no_secrets():  # type: ignore[no-untyped-def]
    from digest.credentials import Secrets

    return Secrets(smtp_password=None, signing_key=KEY)


def statuses(store: Store) -> dict[str, str]:
    return {r.email: r.status for r in store.delivery_rows(WEEK)}


def test_many_messages_over_a_few_reused_connections(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, "connections = 4"))
    with Store(settings.storage_path) as store:
        subscribe(store, 60)
        report = run(settings, store)
        assert report.sent == 60 and report.connections == 4
        assert set(smtp_sink.counts().values()) == {1} and len(smtp_sink.counts()) == 60
        assert 2 <= smtp_sink.sessions <= 4  # each connection carried many messages
        assert set(statuses(store).values()) == {"sent"}
        assert not store.ledger_open(WEEK)
        again = run(settings, store)  # a rerun sends nobody anything
        assert (again.sent, again.already) == (0, 60)
        assert len(smtp_sink.received) == 60
    # Every message is whole and names its own subscriber in its unsubscribe link.
    for item in smtp_sink.received:
        msg = message_from_bytes(item.data, policy=policy.default)
        link = str(msg["List-Unsubscribe"]).split(">")[0].strip().lstrip("<")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = (part.get_content().replace("\r\n", "\n") for part in msg.iter_parts())
        assert text.rstrip("\n") == personalize(TEXT, link, html=False).rstrip("\n")
        assert html.rstrip("\n") == personalize(HTML, link, html=True).rstrip("\n")
        assert msg["To"].addresses[0].addr_spec == item.rcpt_tos[0]


def test_a_temporary_refusal_is_retried_with_backoff_and_never_bounces(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(
        smtp_config(smtp_sink, 'connections = 1\nmax_attempts = 3\nretry_after = "5m"')
    )
    clock = Clock()
    with Store(settings.storage_path) as store:
        subscribe(store, 2)
        smtp_sink.refuse("r001@example.com", "451 4.7.1 greylisted, try again later")
        report = run(settings, store, clock)
        assert report.sent == 1 and [a for a, _ in report.deferred] == ["r001@example.com"]
        assert store.next_retry(WEEK) == T0 + timedelta(minutes=5)
        clock.now = T0 + timedelta(minutes=4)
        assert run(settings, store, clock).to_send == 0  # not yet due: nothing tried
        clock.now = T0 + timedelta(minutes=5)
        second = run(settings, store, clock)
        assert len(second.deferred) == 1
        assert store.next_retry(WEEK) == clock.now + timedelta(minutes=10)  # doubled
        clock.now += timedelta(minutes=10)
        third = run(settings, store, clock)  # the third 4xx: out of attempts
        assert third.failed and "gave up after 3 temporary refusals" in third.failed[0][1]
        assert statuses(store)["r001@example.com"] == "failed"
        assert store.subscriber(2).status == "active"  # type: ignore[union-attr]
        assert not store.ledger_open(WEEK)


def test_a_greylisted_address_gets_the_issue_once_the_server_takes_it(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, 'retry_after = "1m"'))
    clock = Clock()
    with Store(settings.storage_path) as store:
        subscribe(store, 3)
        smtp_sink.refuse("r002@example.com", "450 4.2.0 mailbox busy")
        run(settings, store, clock)
        assert store.ledger_open(WEEK)
        smtp_sink.refuse("r002@example.com", "")  # the server takes it now
        clock.now += timedelta(minutes=1)
        assert run(settings, store, clock).sent == 1
        assert smtp_sink.counts() == {f"r00{n}@example.com": 1 for n in range(3)}
        assert not store.ledger_open(WEEK)


def test_permanent_refusals_fail_and_mark_bouncing_after_the_configured_count(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, "bounce_after = 1"))
    with Store(settings.storage_path) as store:
        subscribe(store, 3)
        smtp_sink.refuse("r000@example.com", "550 5.1.1 no such user")
        report = run(settings, store)
        assert report.failed == [("r000@example.com", "550 5.1.1 no such user")]
        assert report.bounced == ["r000@example.com"]
        assert store.subscriber(1).status == "bouncing"  # type: ignore[union-attr]
        assert report.sent == 2
        assert "bouncing r000@example.com" in "\n".join(report.summary_lines())


def test_dropped_connections_resend_at_most_once_and_record_it(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, "connections = 2"))
    smtp_sink.faults(drop_every=4)
    with Store(settings.storage_path) as store:
        subscribe(store, 20)
        report = run(settings, store)
        counts = smtp_sink.counts()
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
        assert len(counts) == 20  # nobody missing
        duplicated = {a for a, n in counts.items() if n > 1}
        assert duplicated and max(counts.values()) == 2
        # Every duplicate is a recorded unknown, resent once and never more.
        assert duplicated <= {a for a, r in rows.items() if r.unknowns}
        assert set(report.resent) == {a for a, r in rows.items() if r.unknowns}
        assert set(report.unknown) == {a for a, r in rows.items() if r.status == "unknown"}
        assert all(r.unknowns == 2 for r in rows.values() if r.status == "unknown")
        assert all(r.status in ("sent", "unknown") for r in rows.values())
        assert smtp_sink.sessions > 2  # reconnected after each drop


def test_seeded_451s_and_drops_lose_nobody(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, 'retry_after = "0s"\nmax_attempts = 20'))
    smtp_sink.faults(rcpt_rate=0.2, data_rate=0.2, drop_every=7, seed=5)
    with Store(settings.storage_path) as store:
        subscribe(store, 50)
        run(settings, store)
        reruns = 0
        while store.ledger_open(WEEK):
            run(settings, store)
            reruns += 1
            assert reruns < 20
        counts = smtp_sink.counts()
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
    assert len(counts) == 50
    assert {a for a, n in counts.items() if n > 1} <= {a for a, r in rows.items() if r.unknowns}
    assert reruns >= 1  # the 451s were retried by later runs


def test_a_stop_request_finishes_the_message_in_flight_and_a_rerun_resumes(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, "connections = 1"))
    stop = threading.Event()

    def stop_after_five(report: DeliveryReport) -> None:
        if report.sent == 5:
            stop.set()  # what SIGTERM does

    with Store(settings.storage_path) as store:
        subscribe(store, 12)
        report = run(settings, store, stop=stop, progress=stop_after_five)
        assert report.stopped and report.sent == 5
        assert "stopped on request" in "\n".join(report.summary_lines())
        assert list(statuses(store).values()).count("sent") == 5
        assert "sending" not in statuses(store).values()  # nothing left half-done
        assert run(settings, store).sent == 7
    assert set(smtp_sink.counts().values()) == {1} and len(smtp_sink.counts()) == 12


def test_the_cap_per_connection_opens_a_new_connection(
    smtp_sink: SmtpSink, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    _, settings = write_config(smtp_config(smtp_sink, "connections = 1\nmax_per_connection = 3"))
    with Store(settings.storage_path) as store:
        subscribe(store, 10)
        assert run(settings, store).sent == 10
    assert smtp_sink.sessions == 4  # 3 + 3 + 3 + 1


def test_an_unreachable_relay_stops_the_run_and_fails_nobody(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    with socket.socket() as probe:  # a free port: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, settings = write_config(smtp_config(port, "connections = 3"))
    with Store(settings.storage_path) as store:
        subscribe(store, 5)
        with pytest.raises(DeliveryError, match="cannot connect"):
            run(settings, store)
        assert set(statuses(store).values()) == {"pending"}


def test_rate_limits_space_messages_and_cap_each_hour() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        now[0] += seconds

    per_second = RateLimit(4, 0, clock=lambda: now[0], sleep=sleep)
    assert all(per_second.wait() for _ in range(5))
    assert waits == [0.25] * 4 and now[0] == 1.0

    now[0], waits[:] = 0.0, []
    per_hour = RateLimit(0, 3, clock=lambda: now[0], sleep=sleep)
    assert all(per_hour.wait() for _ in range(7))
    assert waits == [3600, 3600]  # the 4th waits an hour, and so does the 7th
    stop = threading.Event()
    stop.set()
    assert not RateLimit(1, 0, stop=stop, sleep=sleep).wait()


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = DeliverySettings(
        retry_after=timedelta(minutes=5), max_retry_after=timedelta(hours=1)
    )
    assert [backoff(settings, n) for n in (1, 2, 3, 4, 5)] == [
        timedelta(minutes=m) for m in (5, 10, 20, 40, 60)
    ]


def test_composed_parts_decode_to_the_personalised_issue(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    _, settings = write_config("")
    long_ascii = "<p>" + "Samsung opens an AI lab in Seoul. " * 200 + "</p>"
    for html in (HTML, long_ascii + f"<a href='{UNSUBSCRIBE_PLACEHOLDER}'>x</a>" * 3):
        issue = RenderedIssue("s", html, html, TEXT, "")
        prepared = prepare(WEEK, issue, settings)
        for sid in (1, 22, 333, 4444):  # links of different lengths: every base64 offset
            sub = Subscriber(id=sid, email=f"r{sid}@example.com", name="山田 太郎")
            data, message_id = compose(prepared, sub, KEY, T0)
            assert max(len(line) for line in data.split(b"\r\n")) <= 998
            msg = message_from_bytes(data, policy=policy.default)
            assert msg["Message-ID"] == message_id
            assert str(msg["To"]) == f"山田 太郎 <r{sid}@example.com>"
            link = str(msg["List-Unsubscribe"]).split(">")[0].strip().lstrip("<")
            text, html_part = (p.get_content().replace("\r\n", "\n") for p in msg.iter_parts())
            assert text.rstrip("\n") == personalize(TEXT, link, html=False).rstrip("\n")
            assert html_part.rstrip("\n") == personalize(html, link, html=True).rstrip("\n")


def test_composing_renders_nothing_again(
    write_config: Callable[..., tuple[Path, Settings]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per subscriber only substitution happens: no template, no premailer, no
    re-encoding of the parts (the encoders are not even called)."""
    _, settings = write_config("")
    prepared: PreparedIssue = prepare(WEEK, rendered(), settings)

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered or encoded again")

    monkeypatch.setattr("digest.render.issue.render_issue", boom)
    monkeypatch.setattr("digest.render.issue.inline_css", boom)
    import digest.mail.compose

    calls: list[int] = []
    for name in ("_qp", "_b64"):
        real = getattr(digest.mail.compose, name)
        monkeypatch.setattr(
            digest.mail.compose, name, lambda data, real=real: calls.append(len(data)) or real(data)
        )
    compose(prepared, Subscriber(id=7, email="a@example.com", name=""), KEY, T0)
    assert calls and max(calls) < 200  # only the link, never a whole part


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("address", ["yamada@example.jp", "山田@example.jp"])
def test_golden_message(write_config: Callable[..., tuple[Path, Settings]], address: str) -> None:
    """The whole MIME message of one subscriber, byte for byte, with the volatile
    parts (boundary, Message-ID's random tail) masked.
    `DIGEST_UPDATE_GOLDEN=1 pytest tests/test_deliver.py` rewrites the files."""
    import os
    import re

    _, settings = write_config('[outbox]\nfrom = "アジアAIハブ週報 <digest@example.com>"\n')
    prepared = prepare(WEEK, rendered(), settings)
    subscriber = Subscriber(id=42, email=address, name="山田 太郎")
    data, _ = compose(prepared, subscriber, KEY, T0)
    text = data.decode("utf-8")
    text = text.replace(prepared.boundary, "<boundary>")
    text = re.sub(r"(Message-ID: <2026-W47\.42\.)[0-9a-f]+@", r"\1<random>@", text)
    name = "message_utf8.eml" if not address.isascii() else "message.eml"
    path = GOLDEN / name
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"{path} is missing: run with DIGEST_UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8"), (
        f"{path.name} differs; if the change is intended, run with DIGEST_UPDATE_GOLDEN=1"
    )


def test_a_relay_that_refuses_extra_sessions_gets_fewer_connections(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    with SmtpSink(max_sessions=2) as sink:
        _, settings = write_config(smtp_config(sink, "connections = 4"))
        with Store(settings.storage_path) as store:
            subscribe(store, 30)
            report = run(settings, store)
            assert report.sent == 30 and not store.ledger_open(WEEK)
        assert set(sink.counts().values()) == {1} and len(sink.counts()) == 30
        assert sink.stats().sessions == 4  # two got a 421 and were not tried again


def test_a_relay_refusing_every_session_stops_the_run_and_fails_nobody(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    with SmtpSink(max_sessions=0) as sink:
        _, settings = write_config(smtp_config(sink, "connections = 3"))
        with Store(settings.storage_path) as store:
            subscribe(store, 5)
            with pytest.raises(DeliveryError, match="421"):
                run(settings, store)
            assert set(statuses(store).values()) == {"pending"}
