"""What a person at a terminal sees while digest works, and how they stop it.

Owns: the progress bar of a send (rich, on stderr, only when stderr is a
terminal: cron mail and log files get the summary alone), turning SIGTERM
and SIGINT into a stop request, so the messages in flight finish and are
committed before digest exits, and the exit code that says so (`STOPPED`).
Doesn't own: what a send does (`digest.mail.deliver`) or what is logged.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from digest.mail.deliver import DeliveryReport

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# `send` and `run` that stopped on request with messages left for the next run.
# Not 0 (work is left), not 1 (nothing failed), not 128+N (the shell's "killed by
# signal N": digest was not killed, it finished and committed what it had begun,
# and SIGINT and SIGTERM are one outcome), not sysexits' 64-78 (75 is "busy").
# The daemon still exits 0 on SIGTERM: stopping is its normal end.
STOPPED = 3


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside, SIGTERM or SIGINT sets `stop` (the work finishes the message in
    flight and returns); a second signal ends the process at once. Outside the main
    thread (where Python cannot take signals) it only yields."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # asked twice: stop now
        log.warning(
            "%s: finishing the messages in flight, then stopping", signal.Signals(signum).name
        )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def send_progress(
    enabled: bool | None = None,
) -> Iterator[Callable[[DeliveryReport], None] | None]:
    """A callback for `deliver(progress=...)` drawing a bar on stderr, or None when
    stderr is not a terminal (then only the summary is printed)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "sent {task.fields[sent]} · deferred {task.fields[deferred]} · "
            "failed {task.fields[failed]}"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("sending", total=None, sent=0, deferred=0, failed=0)

        def update(report: DeliveryReport) -> None:
            bar.update(
                task,
                description=report.week,
                total=report.to_send or None,
                completed=report.done,
                sent=report.sent,
                deferred=len(report.deferred),
                failed=len(report.failed) + len(report.unknown),
            )

        yield update
