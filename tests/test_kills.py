"""SIGKILL during `digest send`, a few times, as real processes: the fast version of
benchmarks/kills.py. The sink (aiosmtpd on 127.0.0.1) waits before answering the
final "." so that kills land while rows are `handed`; half of the messages are
kept only after that wait (a killed sender loses them), half before (a killed
sender may send them again).

Asserts: nobody missing without being named unknown (or failed) by the final
`send` and by `digest deliveries list`; every extra copy covered by its row's
recorded unknowns; the ledger closed; the final send exits 1 exactly when someone
is named.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from pathlib import Path

import pytest
from ledgerworld import SECRET, WEEK, cli_process, make_world

from digest.loopback.mailsink import SmtpSink

pytestmark = [pytest.mark.network, pytest.mark.slow]

KILLS = 5
READERS = 200
NAMED = re.compile(r"^\s+(unknown|failed)\s+(\S+@\S+?):", re.MULTILINE)


def test_sigkill_during_send_loses_nobody_unnamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    rng = random.Random(3)
    with SmtpSink(dot_delay=(0.02, 0.05), late_commit_rate=0.5, seed=3, keep=False) as sink:
        world = make_world(tmp_path, sink.port, READERS, delivery="connections = 4")
        killed = handed_kills = 0
        while killed < KILLS:
            sessions = sink.sessions
            proc = cli_process(world, "send", "--week", WEEK)
            deadline = time.monotonic() + 30
            while sink.sessions == sessions and proc.poll() is None:
                assert time.monotonic() < deadline, "send never connected"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.05, 0.25))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)
            if proc.returncode != -signal.SIGKILL:
                break  # it finished first: nothing left to kill
            killed += 1
            with world.store() as store:
                handed_kills += any(r.status == "handed" for r in store.delivery_rows(WEEK))
        for _ in range(10):
            final = cli_process(world, "send", "--week", WEEK)
            out, _ = final.communicate(timeout=60)
            with world.store() as store:
                if not store.ledger_open(WEEK):
                    break
        listing = cli_process(world, "deliveries", "list", "--week", WEEK)
        listed, _ = listing.communicate(timeout=60)
        counts = sink.counts()
    with world.store() as store:
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
        assert not store.ledger_open(WEEK)
    assert killed >= 3 and handed_kills >= 1
    named_final = {m.group(2) for m in NAMED.finditer(out.decode())}
    named_list = {m.group(2) for m in NAMED.finditer(listed.decode())}
    missing = {e for e in world.emails if counts.get(e, 0) == 0}
    assert missing <= named_final and missing <= named_list
    assert named_final == {e for e, r in rows.items() if r.status in ("unknown", "failed")}
    for email, n in counts.items():
        assert n - 1 <= rows[email].unknowns, f"{email}: {n} copies"
    assert final.returncode == (1 if named_final else 0)
