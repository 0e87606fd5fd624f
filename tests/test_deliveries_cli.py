"""`digest deliveries list/retry/settle`, and `run` naming every reader whose copy
is unknown or failed until an operator settles it. Real sink, real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgerworld import SECRET, WEEK, World, cli, counts_line, make_world, send

from digest.loopback.mailsink import SmtpSink
from digest.mail.report import DeliveryReport
from digest.state.ledger import DeliveryRow

pytestmark = pytest.mark.network


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, SmtpSink]]:
    with SmtpSink() as sink:
        yield make_world(tmp_path, sink.port, 4), sink


def failed_and_unknown(world: World, sink: SmtpSink, capsys: pytest.CaptureFixture[str]) -> None:
    """r001 refused with 550; r002's message handed over twice with no reply."""
    sink.refuse("r001@example.com", "550 5.1.1 no such user")
    sink.on_message(None)
    with world.store() as store:
        sid = {s.email: s.id for s in store.subscribers()}["r002@example.com"]
        store.open_ledger(WEEK, _now())
        for _ in range(2):
            store.claim_delivery(WEEK, sid, _now())
            store.delivery_handed(WEEK, sid)
            store.delivery_unknown(WEEK, sid, _now(), "no reply: connection closed")
    code, _, _ = send(world, capsys)
    assert code == 1


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_list_names_each_unknown_or_failed_reader_with_its_reason(
    world: tuple[World, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    w, sink = world
    failed_and_unknown(w, sink, capsys)
    assert cli(w, "deliveries", "list", "--week", WEEK) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{WEEK}: 2 reader(s) may not have the issue (failed or unknown)")
    assert out[1:] == [
        "  failed   r001@example.com: 550 5.1.1 no such user",
        "  unknown  r002@example.com: no reply: connection closed",
    ]
    assert cli(w, "deliveries", "list") == 0  # every week: each line names its week
    assert f"  {WEEK} unknown  r002@example.com" in capsys.readouterr().out
    assert cli(w, "deliveries", "list", "--week", WEEK, "--all") == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 4 and f"{WEEK}\tsent\tr000@example.com\t" in rows


def test_retry_sends_again_and_the_issue_is_reopened_for_run(
    world: tuple[World, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    w, sink = world
    failed_and_unknown(w, sink, capsys)
    sink.refuse("r001@example.com", "")  # the address works again
    assert cli(w, "deliveries", "retry", "--week", WEEK) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{WEEK}: 2 message(s) back to pending")
    with w.store() as store:
        assert store.issue_sent_at(WEEK) is None  # `run` resumes it
    code, out, _ = send(w, capsys)
    assert (code, counts_line(out)) == (
        0,
        f"{WEEK}: sent 2, failed 0, deferred 0, unknown 0, resent after no reply 0, "
        "already sent earlier 2, unsubscribed meanwhile 0",
    )
    assert set(w.rows().values()) == {"sent"}
    with w.store() as store:
        assert store.issue_sent_at(WEEK) is not None
    assert cli(w, "deliveries", "list", "--week", WEEK) == 0
    assert capsys.readouterr().out == f"{WEEK}: no reader with an unknown or failed copy\n"


def test_retry_one_address_and_an_unknown_address_is_an_error(
    world: tuple[World, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    w, sink = world
    failed_and_unknown(w, sink, capsys)
    assert cli(w, "deliveries", "retry", "--week", WEEK, "R002@example.com") == 0
    assert "1 message(s) back to pending" in capsys.readouterr().out
    assert w.rows()["r002@example.com"] == "pending"
    assert cli(w, "deliveries", "retry", "--week", WEEK, "r000@example.com") == 1
    assert (
        f"digest: error: r000@example.com has no unknown or failed message in {WEEK}"
        in capsys.readouterr().err
    )


def test_settle_needs_a_reason_and_closes_the_rows(
    world: tuple[World, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    w, sink = world
    failed_and_unknown(w, sink, capsys)
    with pytest.raises(SystemExit) as info:
        cli(w, "deliveries", "settle", "--week", WEEK)
    assert info.value.code == 2 and "--reason" in capsys.readouterr().err
    assert cli(w, "deliveries", "settle", "--week", WEEK, "--reason", " \n ") == 2
    capsys.readouterr()
    assert cli(w, "deliveries", "settle", "--week", WEEK, "--reason", "reader confirmed") == 0
    assert f"{WEEK}: 2 message(s) settled: reader confirmed" in capsys.readouterr().out
    with w.store() as store:
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
    assert rows["r002@example.com"].status == "settled"
    assert rows["r002@example.com"].detail == (
        "reader confirmed (was unknown: no reply: connection closed)"
    )
    code, out, _ = send(w, capsys)  # settled: no longer listed, exit 0
    assert code == 0 and "may not have the issue" not in out
    assert "already sent earlier 2," in counts_line(out)  # settled is not "sent" either


def test_deliveries_commands_wait_for_a_send_in_progress(
    world: tuple[World, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    from digest.state.lock import publishing_lock

    w, _ = world
    with publishing_lock(w.settings.storage_path):
        assert cli(w, "deliveries", "settle", "--week", WEEK, "--reason", "x") == 75
    assert "another digest process" in capsys.readouterr().err


def test_summary_never_counts_unknown_or_failed_as_sent() -> None:
    row = DeliveryRow(3, "u@example.com", "unknown", 2, 2, None, "", "no reply", WEEK)
    report = DeliveryReport(week=WEEK, transport="t", sent=1, already=5, unsettled=[row])
    report.unknown.append("u@example.com")
    lines = report.summary_lines()
    assert "already sent earlier 5" in lines[0] and "unknown 1" in lines[0]
    assert lines[-1] == "  unknown  u@example.com: no reply"
    assert sum("u@example.com" in line for line in lines) == 1
    assert report.needs_a_person


def test_run_names_readers_of_any_week_and_exits_1_until_settled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from digest.loopback.feedserver import FeedServer, Route

    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>KR</title>'
        b"<link>https://kr.example/</link></channel></rss>"
    )
    with SmtpSink() as sink, FeedServer() as feeds:
        feeds["/kr.xml"] = Route(rss)
        w = make_world(tmp_path, sink.port, 4, feed_url=feeds.url("/kr.xml"))
        failed_and_unknown(w, sink, capsys)
        assert cli(w, "run") == 1
        out = capsys.readouterr().out
        assert "every week: 2 reader(s) may not have the issue (failed or unknown)" in out
        assert f"  {WEEK} failed   r001@example.com: 550 5.1.1 no such user" in out
        assert f"  {WEEK} unknown  r002@example.com: no reply: connection closed" in out
        report = json.loads(sorted((tmp_path / "w" / "reports").glob("*-run.json"))[-1].read_text())
        assert [u["address"] for u in report["unsettled"]] == [
            "r001@example.com",
            "r002@example.com",
        ]
        assert cli(w, "deliveries", "settle", "--week", WEEK, "--reason", "checked by hand") == 0
        assert cli(w, "run") == 0
        assert "may not have the issue" not in capsys.readouterr().out
