"""The clock every command reads.

Owns: `utc_now`, the one place a verb of the command line asks the time, so a
test can set the clock of every command at once (patch `clock.utc_now`).

Never touches: anything else; commands pass it, or what it returns, to the
pipeline, which takes its `now` from its caller.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
