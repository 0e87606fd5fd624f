"""`digest daemon`: the long-running alternative to `digest run` from cron.

Owns: the schedule (APScheduler 3.x): an interval job every `[schedule]
gather_every` (plus up to `jitter` of random delay), a cron job at `[digest]
publish` in `[digest] timezone`, and one run at start; the process's signal
handling (SIGTERM, SIGINT: stop scheduling, let the job in flight finish its
message, exit 0). Doesn't own: what a run does or whether an issue is due:
every job is `pipeline.run_once`, which asks `schedule.decide` under the
publishing lock, exactly like `digest run`.

Jobs never overlap (one worker thread, `max_instances=1`), a job that could not
start on time still runs (`misfire_grace_time=None`, coalesced into one): the
lateness rule is `schedule.decide`'s, not APScheduler's.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Settings
from digest.credentials import Secrets
from digest.errors import DigestError, LockBusy
from digest.state.store import Store

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_job(
    settings: Settings,
    secrets: Secrets,
    stop: threading.Event,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """One scheduled run. Never raises: a daemon logs a failed run and goes on."""
    if stop.is_set():
        return
    from digest.run.pipeline import run_once

    try:
        with Store(settings.storage_path) as store:
            report = run_once(settings, secrets, store, clock, stop=stop, verb="daemon")
        log.info("run finished: %s %s (report %s)", report.week, report.action, report.report_path)
    except LockBusy as e:
        log.info("another digest process is publishing; this run only gathered (%s)", e.message)
    except DigestError as e:
        log.error("run failed: %s", e)
    except Exception:
        log.exception("run failed unexpectedly")


def make_scheduler(
    settings: Settings, job: Callable[[], None], *, start_now: bool = True
) -> BackgroundScheduler:
    """The scheduler with its two jobs (not started)."""
    sched = settings.schedule
    publish = settings.digest.publish
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=settings.digest.tz,
    )
    scheduler.add_job(
        job,
        IntervalTrigger(
            seconds=int(sched.gather_every.total_seconds()),
            jitter=int(sched.jitter.total_seconds()) or None,
            timezone=settings.digest.tz,
        ),
        id="gather",
        name="gather, and publish when due",
        next_run_time=datetime.now(settings.digest.tz) if start_now else None,
    )
    scheduler.add_job(
        job,
        CronTrigger(
            day_of_week=CRON_DAYS[publish.weekday],
            hour=publish.at.hour,
            minute=publish.at.minute,
            timezone=settings.digest.tz,
        ),
        id="publish",
        name="publish the weekly issue",
    )
    return scheduler


def run_daemon(settings: Settings, secrets: Secrets, stop: threading.Event | None = None) -> int:
    """Run until SIGTERM or SIGINT (or `stop` is set); returns the exit code, 0."""
    stop = stop or threading.Event()
    scheduler = make_scheduler(settings, lambda: run_job(settings, secrets, stop))

    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning("%s: finishing the job in flight, then stopping", signal.Signals(signum).name)
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS} if in_main else {}
    try:
        scheduler.start()
        log.info(
            "daemon started: gather every %s (jitter %s), publish %s %s",
            settings.schedule.gather_every,
            settings.schedule.jitter,
            settings.digest.publish,
            settings.digest.timezone,
        )
        while not stop.wait(1.0):
            pass
        scheduler.shutdown(wait=True)  # the job in flight sees `stop` and ends early
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    log.info("daemon stopped")
    return 0
