"""The terminal side of a send: the progress bar and stopping on SIGTERM/SIGINT."""

from __future__ import annotations

import io
import os
import signal
import threading

import pytest
from rich.console import Console

from digest.mail.deliver import DeliveryReport
from digest.run import console
from digest.run.console import send_progress, stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_requests_a_stop_and_a_second_one_stops_now(signum: int) -> None:
    before = signal.getsignal(signum)
    with stop_on_signals(threading.Event()) as stop:
        os.kill(os.getpid(), signum)
        assert stop.is_set()  # the work in flight finishes; nothing was raised
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
    assert signal.getsignal(signum) is before  # the old handler is back


def test_no_progress_bar_without_a_terminal() -> None:
    with send_progress(enabled=False) as update:
        assert update is None


def test_the_progress_bar_counts_what_the_report_says(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(
        console, "Console", lambda **_: Console(file=out, force_terminal=True, width=120)
    )
    report = DeliveryReport(week="2026-W47", transport="smtp", to_send=10)
    with send_progress(enabled=True) as update:
        assert update is not None
        report.sent = 7
        report.deferred.append(("a@example.com", "451"))
        update(report)
    text = out.getvalue()
    assert "2026-W47" in text and "8/10" in text and "sent 7" in text and "deferred 1" in text
