"""What one send did, as a person reads it: counts, and every reader left without a copy.

Owns: `DeliveryReport` (the counts of one `deliver` call and the addresses of what
went wrong), its summary lines, and the lines that name the readers whose copy is
`unknown` or `failed` and not yet settled by an operator (`unsettled_lines`), which
`send`, `run` and `deliveries list` all print the same way. Doesn't own: sending
(`digest.mail.deliver`) or the ledger (`digest.state.ledger`).

The rule these lines keep: a row that is `unknown` or `failed` is never counted as
"already sent", and is named, with its reason, by everything a person reads until
an operator retries or settles it (`digest deliveries retry|settle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digest.state.ledger import DeliveryRow


@dataclass
class DeliveryReport:
    """What one send did. Counts, and the addresses only of what went wrong."""

    week: str
    transport: str
    connections: int = 1
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)
    deferred: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # no reply: not sent again
    resent: list[str] = field(default_factory=list)  # no reply the first time: sent again
    retried: list[str] = field(default_factory=list)  # 421 to the final ".": tried again
    bounced: list[str] = field(default_factory=list)  # marked `bouncing` in this run
    suppressed: int = 0  # unsubscribed or bouncing since the send began
    already: int = 0  # rows `sent` by earlier runs (never unknown or failed ones)
    to_send: int = 0  # messages due when this run began
    in_flight_recovered: int = 0  # rows a killed run left handed over, with no reply
    # Distinct messages rendered for this send: the full issue and one per other
    # choice of countries and language among the readers (never one per reader).
    variants: int = 1
    seconds: float = 0.0
    stopped: bool = False  # a stop request (SIGTERM) ended the run early
    dry_run: bool = False
    empty: bool = False  # the issue had no stories, so nothing was sent
    no_readers: bool = False  # no active subscriber and no ledger row: nothing sent
    next_retry: datetime | None = None  # when deferred messages become due
    would_send: list[str] = field(default_factory=list)  # dry run: the first addresses
    # Every row of the week, after this run, that is `unknown` or `failed` and not
    # settled: these readers may not have the issue, and a person must decide.
    unsettled: list[DeliveryRow] = field(default_factory=list)

    @property
    def done(self) -> int:
        return (
            self.sent + len(self.failed) + len(self.deferred) + len(self.unknown) + self.suppressed
        )

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def needs_a_person(self) -> bool:
        """Whether the command exits 1: a reader of this week may not have the issue."""
        return bool(self.unsettled or self.failed or self.unknown)

    def summary_lines(self) -> list[str]:
        if self.empty:
            return [f"{self.week}: no stories this week; nothing sent (never a blank email)"]
        if self.no_readers:
            return [
                f"{self.week}: no active subscribers: nothing sent, and the issue is not "
                "marked sent (add subscribers, then send again)"
            ]
        if self.dry_run:
            more = self.to_send - len(self.would_send)
            return (
                [f"{self.week}: would send {self.to_send} (via {self.transport})"]
                + self._variant_lines("would render")
                + [f"  would send to {address}" for address in self.would_send]
                + ([f"  … and {more} more"] if more > 0 else [])
            )
        lines = [
            f"{self.week}: sent {self.sent}, failed {len(self.failed)}, "
            f"deferred {len(self.deferred)}, unknown {len(self.unknown)}, "
            f"resent after no reply {len(self.resent)}, already sent earlier {self.already}, "
            f"unsubscribed meanwhile {self.suppressed} "
            f"({self.rate:.0f} msg/s over {self.connections} connection(s) via {self.transport})"
        ]
        lines += self._variant_lines("rendered")
        if self.retried:
            lines.append(
                f"  421 in reply to the end of data {len(self.retried)} time(s): each time the "
                "message was tried again at once on a new connection"
            )
        if self.in_flight_recovered:
            lines.append(
                f"  {self.in_flight_recovered} message(s) were handed over with no reply when "
                "an earlier run stopped: each sent once more unless that happened before"
            )
        if self.stopped:
            lines.append("  stopped on request; the rest goes out on the next run")
        if self.deferred and self.next_retry:
            lines.append(
                f"  deferred messages are retried from {self.next_retry:%Y-%m-%d %H:%M} UTC"
            )
        lines += [f"  deferred {addr}: {why}" for addr, why in self.deferred]
        lines += [
            f"  bouncing {addr}: marked after repeated permanent failures" for addr in self.bounced
        ]
        # Failed and unknown rows are listed from the ledger, with their reason, so
        # those of earlier runs are named too and nobody is listed twice.
        named = {row.email for row in self.unsettled}
        lines += [f"  failed   {addr}: {why}" for addr, why in self.failed if addr not in named]
        lines += [
            f"  unknown  {addr}: no reply after the message was handed over"
            for addr in self.unknown
            if addr not in named
        ]
        lines += unsettled_lines(self.week, self.unsettled)
        return lines

    def _variant_lines(self, verb: str) -> list[str]:
        if self.variants <= 1:
            return []
        return [
            f"  {verb} {self.variants} variants: the full issue and one per other choice "
            "of countries and language among the readers, each once"
        ]


def unsettled_lines(week: str | None, rows: Sequence[DeliveryRow]) -> list[str]:
    """A heading and one line per reader whose copy is unknown or failed, unsettled.

    `week` None: rows of several weeks (each line names its week)."""
    if not rows:
        return []
    where = f"--week {week}" if week else "--week W"
    title = week or "every week"
    lines = [
        f"{title}: {len(rows)} reader(s) may not have the issue (failed or unknown): "
        f"exit 1 until each is retried or settled (`digest deliveries list {where}`, "
        f"`digest deliveries retry {where} ADDR`, "
        f"`digest deliveries settle {where} ADDR --reason TEXT`)"
    ]
    for row in rows:
        prefix = "" if week else f"{row.week} "
        lines.append(f"  {prefix}{row.status:<8} {row.email}: {row.detail or 'no reason recorded'}")
    return lines
