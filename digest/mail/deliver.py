"""Sending one issue to every active subscriber, exactly once, over N connections.

Owns: the worker threads (one connection each, reused for many messages), the
providers' rate limits, and the discipline of the delivery ledger (`Store`, one
row per issue and subscriber). Doesn't own: SMTP sessions (`digest.mail.transport`),
composing messages (`digest.mail.compose`), deciding which week to send
(`digest.run.pipeline`), or the publishing lock (held by the caller).

Each message, in order: wait for the rate limits, claim its row (`sending`,
committed, after checking the subscriber is still active), pick the prepared
variant of the reader's choice as the claim just read it (`digest.mail.variants`:
rendered once per distinct choice, never per reader), compose it by
substitution, send it up to its final ".", mark the row `handed` (committed),
send the ".", and commit the outcome. The reply code decides:

- 250: `sent`; the subscriber's bounce count resets.
- 5xx (at MAIL, RCPT or end of data): `failed`; counts a bounce, and after
  `[delivery] bounce_after` in a row the subscriber becomes `bouncing`.
- 4xx: `deferred` until now + backoff (`retry_after`, doubling, at most
  `max_retry_after`); after `max_attempts` tries it is `failed`, with no bounce.
- 421 or a dropped connection *before* the message was handed over: it never
  left, so it is retried at once on a new connection.
- 421 in reply to the final ".": the server refused the message and closed the
  connection. The attempt counts; the row is `pending` again and the message is
  retried at once on a new connection (`failed` when out of attempts). Three
  losses in a row stop the run, and that message is `deferred` like any 4xx.
  Every reply to the final "." decides a state; none leaves a row `handed`.
- a dropped connection (or timeout) *after* the message was handed over (the
  row is marked `handed` just before the final "." of DATA) and before the
  reply: SMTP cannot tell whether it arrived. The row counts an `unknown`; the
  first time it is sent once more (a reader may get two copies rather than
  none), after that it stays `unknown` and is never sent again. A run killed
  mid-send leaves rows in `sending` (never completed: pending again) or in
  `handed` (treated as above) for the next run (`Store.open_ledger`).
- authentication or TLS failure, or a relay that cannot be reached: the fault
  is ours; the run stops, nobody is failed, a rerun resumes. The error is raised
  as `SendStopped`, which carries the report of what was done before it.

The report (`digest.mail.report`) ends with every row of the week that is
`unknown` or `failed` and not settled by an operator, with its reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from digest.config import DeliverySettings
from digest.errors import DeliveryError, DigestError
from digest.logs import IN_SUMMARY
from digest.mail.compose import PreparedIssue, compose
from digest.mail.report import DeliveryReport
from digest.mail.signing import Signer
from digest.mail.transport import (
    ConnectFailed,
    ConnectionLost,
    OutboxTransport,
    Refused,
    SmtpTransport,
    Transport,
)
from digest.mail.variants import Variants
from digest.models import Subscriber
from digest.state.store import Store

log = logging.getLogger(__name__)

PAGE = 500  # ledger rows read at a time: memory stays flat however many subscribers
DRY_RUN_LISTED = 50  # addresses a dry run lists
MAX_CONNECTION_LOSSES = 3  # in a row on one worker, without a message getting through
MAX_ROUNDS = 3  # passes over the due rows in one run (see `deliver`)


class RateLimit:
    """The providers' caps, shared by all connections: messages per second (spaced
    evenly) and per rolling hour. `wait()` blocks until the next message may go;
    it returns False when a stop was requested meanwhile."""

    def __init__(
        self,
        per_second: float,
        per_hour: int,
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.interval = 1 / per_second if per_second else 0.0
        self.per_hour = per_hour
        self._stop = stop or threading.Event()
        self._clock = clock
        self._sleep = sleep or self._stop.wait
        self._lock = threading.Lock()
        self._next = 0.0  # the earliest time the next message may go
        self._hour: deque[float] = deque()  # send times in the last hour: ≤ per_hour

    def wait(self) -> bool:
        if not self.interval and not self.per_hour:
            return not self._stop.is_set()
        with self._lock:  # reserve a slot; the waiting happens outside the lock
            now = self._clock()
            at = max(now, self._next)
            if self.per_hour:
                while self._hour and self._hour[0] <= now - 3600:
                    self._hour.popleft()
                if len(self._hour) >= self.per_hour:
                    at = max(at, self._hour[-self.per_hour] + 3600)
                self._hour.append(at)
                while len(self._hour) > self.per_hour:
                    self._hour.popleft()
            self._next = at + self.interval
        delay = at - self._clock()
        if delay > 0:
            if delay > 60:
                log.info("rate limit: next message in %.0f s", delay)
            self._sleep(delay)
        return not self._stop.is_set()


def backoff(settings: DeliverySettings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th temporary refusal: retry_after, doubling."""
    delay: timedelta = settings.retry_after * (2 ** max(attempts - 1, 0))
    return min(delay, settings.max_retry_after)


@dataclass
class _Run:
    """State shared by the worker threads of one `deliver` call."""

    store_path: Path
    variants: Variants
    key: bytes
    clock: Callable[[], datetime]
    settings: DeliverySettings
    signer: Signer | None
    limit: RateLimit
    stop: threading.Event
    report: DeliveryReport
    progress: Callable[[DeliveryReport], None] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    fatal: list[BaseException] = field(default_factory=list)
    active: int = 0  # workers not retired after a refused connection
    alive: int = 0  # worker threads not yet finished

    def tally(self, update: Callable[[DeliveryReport], None]) -> None:
        with self.lock:
            update(self.report)
            if self.progress is not None:
                self.progress(self.report)


def deliver(
    store: Store,
    prepared: PreparedIssue | Variants,
    transports: Callable[[], Transport],
    key: bytes,
    clock: Callable[[], datetime],
    settings: DeliverySettings,
    *,
    connections: int | None = None,
    dry_run: bool = False,
    signer: Signer | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Send the issue to every subscriber whose message is due, over
    `connections` (default `settings.connections`) connections made by
    `transports()`. Call under the publishing lock. With `stop` set, each
    worker finishes the message in flight, commits, and returns. `prepared`: the
    one message of everyone, or the `Variants` of readers' choices."""
    variants = prepared if isinstance(prepared, Variants) else Variants.one(prepared)
    week = variants.week
    stop = stop or threading.Event()
    workers = max(1, connections or settings.connections)
    sample = transports()
    report = DeliveryReport(
        week=week, transport=sample.description, connections=workers, dry_run=dry_run
    )
    if dry_run:
        report.to_send = store.due_count(week, clock())
        report.would_send = store.due_emails(week, clock(), DRY_RUN_LISTED)
        return report
    opened = store.open_ledger(week, clock())
    report.in_flight_recovered = opened.in_flight
    report.unknown.extend(opened.unknown)
    if opened.interrupted:
        log.info(
            "%s: %d message(s) were interrupted before the handover when an earlier run "
            "stopped; they go out now",
            week,
            opened.interrupted,
        )
    if opened.in_flight:
        log.warning(
            "%s: %d message(s) were handed over with no reply yet when an earlier run "
            "stopped; each is sent once more at most (%d not again)",
            week,
            opened.in_flight,
            len(opened.unknown),
            extra=IN_SUMMARY,  # the report's summary lines say it too
        )
    # Only rows the server took count as sent earlier: an `unknown` or `failed` row
    # is never "already sent"; it is listed as unsettled instead (below).
    report.already = store.ledger_counts(week).get("sent", 0)
    report.to_send = store.due_count(week, clock())
    run = _Run(
        store_path=store.path,
        variants=variants,
        key=key,
        clock=clock,
        settings=settings,
        signer=signer,
        limit=RateLimit(settings.max_per_second, settings.max_per_hour, stop=stop),
        stop=stop,
        report=report,
        progress=progress,
    )
    started = time.perf_counter()
    begun = clock()  # rows deferred during this run are not due again in it
    try:
        for _ in range(MAX_ROUNDS):
            _round(run, store, [sample, *(transports() for _ in range(workers - 1))], begun)
            workers = max(run.active, 1)
            # A message whose connection was refused (its row released) may have been
            # put back after the last worker took its end marker: another round
            # sends it, so a run that ends without a stop leaves no due row behind.
            if run.fatal or stop.is_set() or not store.due_deliveries(week, begun, 0, 1):
                break
            sample = transports()
    finally:
        report.seconds = time.perf_counter() - started
        report.variants = len(variants)
    report.stopped = stop.is_set() and not run.fatal
    report.next_retry = store.next_retry(week)
    report.unsettled = store.unsettled_deliveries(week)
    if run.fatal:
        error = run.fatal[0]
        if isinstance(error, DigestError):
            # What went out before the run stopped is still told, with the error.
            raise SendStopped(error, report) from error
        raise error
    return report


class SendStopped(DeliveryError):
    """A send stopped on an error of ours or the relay's (authentication, TLS, an
    unreachable relay, connections lost again and again): the error as it was, and
    the `report` of what was done before it, so nothing sent or failed goes untold."""

    def __init__(self, error: DigestError, report: DeliveryReport) -> None:
        super().__init__(error.message, hint=error.hint)
        self.exit_code = error.exit_code
        self.report = report


def _round(run: _Run, store: Store, transports: list[Transport], now: datetime) -> None:
    """One pass over the due rows, one worker thread per transport."""
    work: queue.Queue[int | None] = queue.Queue(maxsize=len(transports) * 4)
    threads = [
        threading.Thread(
            target=_worker,
            args=(run, work, transport),
            name=f"digest-send-{i + 1}",
            daemon=True,
        )
        for i, transport in enumerate(transports)
    ]
    run.active = run.alive = len(threads)
    for t in threads:
        t.start()
    try:
        _feed(run, store, work, threads, now)
    finally:
        for _ in threads:
            _put(work, None, threads)
        for t in threads:
            t.join()


def _feed(
    run: _Run,
    store: Store,
    work: queue.Queue[int | None],
    threads: list[threading.Thread],
    now: datetime,
) -> None:
    """Page through the rows due at `now` in id order; each id is queued once."""
    after = 0
    while not run.stop.is_set():
        ids = store.due_deliveries(run.variants.week, now, after, PAGE)
        if not ids:
            return
        for subscriber_id in ids:
            if run.stop.is_set() or not _put(work, subscriber_id, threads):
                return
        after = ids[-1]


def _put(work: queue.Queue[int | None], item: int | None, threads: list[threading.Thread]) -> bool:
    while any(t.is_alive() for t in threads):
        try:
            work.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def _worker(run: _Run, work: queue.Queue[int | None], transport: Transport) -> None:
    store = Store(run.store_path)
    sent_on_connection = 0
    subscriber_id: int | None = None
    try:
        while True:
            subscriber_id = work.get()
            if subscriber_id is None or run.stop.is_set():
                return
            if (
                run.settings.max_per_connection
                and sent_on_connection >= run.settings.max_per_connection
            ):
                transport.close()  # the provider's cap per connection: start a new one
                sent_on_connection = 0
            sent_on_connection += _deliver_one(run, store, transport, subscriber_id)
    except ConnectFailed as e:
        with run.lock:
            # Other connections are still at work: the relay caps parallel sessions
            # (or refused this one). Go on with fewer; the last one may not give up.
            retire = run.active > 1
            if retire:
                run.active -= 1
            else:
                run.fatal.append(e)
        if not retire:
            run.stop.set()
            return
        log.warning("%s; going on with the other connections", e)
        if subscriber_id is not None:
            _requeue(run, work, subscriber_id)  # its row was released: someone else sends it
    except BaseException as e:
        with run.lock:
            run.fatal.append(e)
        run.stop.set()  # the others finish their message in flight and stop
    finally:
        with run.lock:
            run.alive -= 1
        try:
            transport.close()
        finally:
            store.close()


def _requeue(run: _Run, work: queue.Queue[int | None], subscriber_id: int) -> None:
    # Only while another worker can take it; otherwise the row, released, waits
    # for the next run (the issue stays open until it is sent).
    while not run.stop.is_set() and run.alive > 1:
        try:
            work.put(subscriber_id, timeout=0.2)
            return
        except queue.Full:
            continue


def _deliver_one(run: _Run, store: Store, transport: Transport, subscriber_id: int) -> int:
    """Send one message, retrying at once after a lost connection; returns how many
    messages went over `transport`'s current connection (0 or 1)."""
    week = run.variants.week
    losses = 0
    while True:
        # The rate limit is waited for before the row is claimed, so that a message
        # held back (maybe for an hour) is never counted as in flight.
        if not run.limit.wait():
            return 0
        claim = store.claim_delivery(week, subscriber_id, run.clock())
        if claim is None:
            # Checked just before sending: unsubscribed or bouncing since the send began.
            if store.delivery_status(week, subscriber_id) is None:
                run.tally(_suppressed)
            return 0
        subscriber, attempts = claim
        try:
            # Inside the try: a variant made now (the reader's choice changed after
            # the send began) that fails releases the row like any error of ours.
            prepared = run.variants.for_reader(subscriber)
            # Signed as composed: the body hash comes from pieces canonicalised once.
            # OpenSSL's RSA releases the GIL (measured with cryptography 50), so one
            # worker's signature overlaps the others' Python. Composing and signing
            # ahead in two extra threads was measured slower on 2 busy cores (412-432
            # against 444-501 messages/s): the hand-offs cost more than they hid.
            data, message_id = compose(prepared, subscriber, run.key, run.clock(), run.signer)
            transport.send(
                prepared.sender,
                subscriber.email,
                data,
                on_handover=partial(store.delivery_handed, week, subscriber_id),
            )
        except Refused as e:
            if e.retry_now:
                # 421 to the final ".": the server refused the message and closed the
                # connection. A reply, so not unknown: tried again at once elsewhere.
                losses += 1
                transport.close()
                last = losses >= MAX_CONNECTION_LOSSES
                decided = _retry_now(run, store, subscriber, attempts, e, last=last)
                if last:
                    raise DeliveryError(
                        f"{transport.description}: answered 421 {losses} times in a row "
                        f"while sending to {subscriber.email}: {e}",
                        hint="run `digest send` again later: subscribers already served "
                        "are skipped",
                    ) from e
                if decided:
                    return 1
                if run.stop.wait(0.05 * losses):
                    return 0
                continue
            _refused(run, store, subscriber, attempts, e)
            return 1
        except ConnectionLost as e:
            losses += 1
            transport.close()
            if e.handed_over:
                again = store.delivery_unknown(week, subscriber_id, run.clock(), f"no reply: {e}")
                log.warning(
                    "%s: connection lost after the message was handed over (%s); %s",
                    subscriber.email,
                    e,
                    "sending it once more" if again else "not sending it again",
                )
                run.tally(_listed("resent" if again else "unknown", subscriber.email))
                if not again:
                    return 0
            else:
                store.release_delivery(week, subscriber_id, f"connection lost: {e}")
                log.info(
                    "connection lost before %s's message was handed over (%s)", subscriber.email, e
                )
            if losses >= MAX_CONNECTION_LOSSES:
                raise DeliveryError(
                    f"{transport.description}: connection lost {losses} times in a row "
                    f"while sending to {subscriber.email}: {e}",
                    hint="run `digest send` again: subscribers already served are skipped",
                ) from e
            if run.stop.wait(0.05 * losses):  # a moment before reconnecting
                return 0
            continue
        except BaseException:
            # Ours (authentication, TLS, unreachable relay) or a bug: the message
            # was not handed over; it stays due for the next run.
            store.release_delivery(week, subscriber_id, "run stopped before sending")
            raise
        store.delivery_sent(week, subscriber_id, run.clock(), message_id)
        run.tally(_sent)
        return 1


def _listed(name: str, address: str) -> Callable[[DeliveryReport], None]:
    def update(report: DeliveryReport) -> None:
        getattr(report, name).append(address)

    return update


def _sent(report: DeliveryReport) -> None:
    report.sent += 1


def _suppressed(report: DeliveryReport) -> None:
    report.suppressed += 1


def _refused(run: _Run, store: Store, subscriber: Subscriber, attempts: int, e: Refused) -> None:
    week, now, email = run.variants.week, run.clock(), subscriber.email
    if e.permanent:
        bounced = store.delivery_failed(
            week,
            subscriber.id,
            now,
            str(e),
            bounce_after=run.settings.bounce_after if e.bounce else None,
        )
        log.warning(
            "%s refused permanently: %s%s",
            email,
            e,
            " (now bouncing)" if bounced else "",
            extra=IN_SUMMARY,  # listed as failed (and bouncing) by the summary
        )

        def failed(r: DeliveryReport) -> None:
            r.failed.append((email, str(e)))
            if bounced:
                r.bounced.append(email)

        run.tally(failed)
    elif attempts >= run.settings.max_attempts:
        reason = f"gave up after {attempts} temporary refusals; last: {e}"
        store.delivery_failed(week, subscriber.id, now, reason, bounce_after=None)
        log.warning("%s: %s", email, reason, extra=IN_SUMMARY)
        run.tally(lambda r: r.failed.append((email, reason)))
    else:
        retry_at = now + backoff(run.settings, attempts)
        store.delivery_deferred(week, subscriber.id, now, retry_at, str(e))
        log.info("%s deferred until %s: %s", email, retry_at.isoformat(timespec="minutes"), e)
        run.tally(lambda r: r.deferred.append((email, str(e))))


def _retry_now(
    run: _Run, store: Store, subscriber: Subscriber, attempts: int, e: Refused, *, last: bool
) -> bool:
    """A 421 to the final ".": the row is pending again to go out at once on a new
    connection; out of attempts it fails (no bounce), and on the `last` loss in a row
    (the run stops) it is deferred like any 4xx. Returns True when the row is decided
    (failed or deferred), False when it is to be sent again now."""
    week, now, email = run.variants.week, run.clock(), subscriber.email
    if attempts >= run.settings.max_attempts or last:
        _refused(run, store, subscriber, attempts, Refused(e.code, e.reply))
        return True
    store.delivery_retry_now(week, subscriber.id, now, f"{e}; tried again on a new connection")
    log.info("%s: %s in reply to the end of data; trying again on a new connection", email, e)
    run.tally(_listed("retried", email))
    return False


def send_test_copy(
    prepared: PreparedIssue,
    transport: Transport,
    key: bytes,
    address: str,
    now: datetime,
    signer: Signer | None = None,
) -> str:
    """Send one copy to `address` (not a subscriber row: the ledger is untouched)."""
    probe = Subscriber(id=0, email=address, name="")
    data, message_id = compose(prepared, probe, key, now, signer)
    try:
        transport.send(prepared.sender, address, data)
    except Refused as e:
        raise DeliveryError(f"{address}: refused: {e}") from e
    except ConnectionLost as e:
        raise DeliveryError(f"{transport.description}: {e}") from e
    finally:
        transport.close()
    return message_id


__all__ = [
    "ConnectionLost",
    "DeliveryReport",
    "OutboxTransport",
    "RateLimit",
    "Refused",
    "SendStopped",
    "SmtpTransport",
    "Transport",
    "backoff",
    "deliver",
    "send_test_copy",
]
