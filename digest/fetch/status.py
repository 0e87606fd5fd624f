"""What `digest feeds` shows: each configured feed's standing, from the stored state.

Owns: `feed_statuses` (configured feeds + their `FeedState`s → one frozen
`FeedStatus` each) and `status_lines` (those as aligned text lines). Pure: no
network, no store access (the caller passes `Store.feed_states(urls)`), no
clock (`now` is a parameter).
Doesn't own: fetching (`digest.fetch.gather`) or the command itself (`digest.cli`).

A feed is, first match wins: ``gone`` (answered 410; no longer polled),
``waiting`` (a Retry-After in the future), ``failing`` (its last fetch failed;
with how many times in a row and why), ``ok`` (its last fetch worked), or
``new`` (never fetched). A feed whose address moved (301/308) says "moved to"
whatever its status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from digest.config import FeedSettings
from digest.models import FeedState

STATUSES = ("ok", "failing", "gone", "waiting", "new")


@dataclass(frozen=True, slots=True)
class FeedStatus:
    url: str  # as configured
    status: str  # one of STATUSES
    detail: str  # one line for a person
    fetched_from: str  # the address actually requested: `moved_to`, else `url`
    moved_to: str | None = None
    last_ok: datetime | None = None
    failures: int = 0


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def feed_status(url: str, state: FeedState | None, now: datetime) -> FeedStatus:
    """One feed's standing (see the module doc for the order of the checks)."""
    state = state or FeedState(url=url)
    error = state.last_error or ""
    if state.gone_at is not None:
        status, detail = "gone", f"since {_when(state.gone_at)}: {error or 'HTTP 410 Gone'}"
    elif state.retry_at is not None and state.retry_at > now:
        status, detail = "waiting", f"until {_when(state.retry_at)} ({error or 'Retry-After'})"
    elif state.failures > 0:
        times = "once" if state.failures == 1 else f"{state.failures} times in a row"
        since = f"; last ok {_when(state.last_ok)}" if state.last_ok else "; never fetched"
        status, detail = "failing", f"{times}: {error}{since}"
    elif state.last_ok is not None:
        status, detail = "ok", f"last fetched {_when(state.last_ok)}"
        if error:  # a success's warning is kept as last_error
            detail += f" (warning: {error})"
    else:
        status, detail = "new", "not fetched yet"
    if state.moved_to:
        detail += f"; moved to {state.moved_to}"
    return FeedStatus(
        url=url,
        status=status,
        detail=detail,
        fetched_from=state.moved_to or url,
        moved_to=state.moved_to,
        last_ok=state.last_ok,
        failures=state.failures,
    )


def feed_statuses(
    feeds: Iterable[FeedSettings], states: Mapping[str, FeedState], now: datetime
) -> list[FeedStatus]:
    """Every configured feed, in config order."""
    return [feed_status(f.url, states.get(f.url), now) for f in feeds]


def status_lines(statuses: Iterable[FeedStatus]) -> list[str]:
    """``<status>  <url>: <detail>`` lines, then a count per status."""
    statuses = list(statuses)
    lines = [f"{s.status:<8}{s.url}: {s.detail}" for s in statuses]
    counts = {name: sum(1 for s in statuses if s.status == name) for name in STATUSES}
    lines.append(
        f"{len(statuses)} feeds: " + ", ".join(f"{n} {name}" for name, n in counts.items())
    )
    return lines
