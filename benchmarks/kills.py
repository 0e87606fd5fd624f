"""Kill -9 during send, many times, with the kill window inside `handed` hit often.

2,000 subscribers (the issue and the world of benchmarks/delivery.py: 80 stories, a
~157 KB message, a real SQLite file). The SMTP sink runs in a process of its own
(`digest.loopback.mailsink.SinkProcess`) and waits 20–50 ms before it answers the
final "." of DATA: half of the messages are kept before that wait (a sender killed
meanwhile may send them again: a duplicate), half only after it (a sender killed
meanwhile loses them: the reader is missing unless digest sends again). So at any
moment most of the 4 connections have a row in `handed`.

`python -m digest send --week W` is started, and once it has opened a session with
the sink it is killed with SIGKILL after a random delay; right after each kill the
ledger is read to see whether the kill landed inside the handed window (a row in
`handed`). Rerun after each kill until the kills are done, then run `send` to the
end, then `digest deliveries list --week W`.

Figures and targets (PASS/FAIL, exit 1 on a miss):
- kills ≥ 100 (quick: 12), and kills inside the handed window ≥ 50 % of them;
- missing readers that no output names = 0: a reader with no copy at the sink must
  be named as unknown or failed by the final `send` and by `deliveries list`;
- duplicates (extra copies) ≤ recorded unknowns (rows with unknowns > 0), and no
  reader has more extra copies than its row recorded unknowns;
- the ledger ends closed (nothing pending, sending, handed or deferred).

Run from the project folder:
    .venv/bin/python benchmarks/kills.py [--quick] [--kills N] [--subscribers N]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from sendworld import WEEK, World, digest_cli, make_world, verdict  # noqa: E402

from digest.credentials import ENV_SECRET  # noqa: E402
from digest.loopback.mailsink import SinkProcess  # noqa: E402
from digest.state.store import Store  # noqa: E402

DOT_DELAY = (0.020, 0.050)
LATE_COMMIT = 0.5
MIN_HANDED_SHARE = 0.5
MAX_FINAL_RUNS = 30
NAMED = re.compile(r"^\s+(?:\S+ )?(unknown|failed)\s+(\S+@\S+?):", re.MULTILINE)


def handed_rows(world: World) -> int:
    """Rows a killed run left in `handed` (read before the next run opens the ledger)."""
    db = sqlite3.connect(f"file:{world.settings.storage_path}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute(
            "SELECT count(*) FROM deliveries WHERE week = ? AND status = 'handed'", (WEEK,)
        ).fetchone()
    finally:
        db.close()
    return int(row[0])


def ledger_open(world: World) -> bool:
    with Store(world.settings.storage_path) as store:
        return store.ledger_open(WEEK)


def run_cli(world: World, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        digest_cli(world, *args), capture_output=True, text=True, check=False, timeout=600
    )
    return done.returncode, done.stdout + done.stderr


def named_in(text: str) -> set[str]:
    """Addresses an output names as unknown or failed."""
    return {m.group(2) for m in NAMED.finditer(text)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 subscribers, 12 kills")
    parser.add_argument("--subscribers", type=int)
    parser.add_argument("--kills", type=int)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    subscribers = args.subscribers or (300 if args.quick else 2_000)
    kills = args.kills or (12 if args.quick else 100)
    if not os.environ.get(ENV_SECRET):
        os.environ[ENV_SECRET] = secrets.token_urlsafe(32)  # this run only
    rng = random.Random(args.seed)
    print(
        f"== kills: {subscribers:,} subscribers, {kills} × SIGKILL during `digest send`, "
        f"{args.connections} connections; the sink waits {DOT_DELAY[0] * 1000:.0f}–"
        f"{DOT_DELAY[1] * 1000:.0f} ms before answering the final '.', keeping "
        f"{LATE_COMMIT:.0%} of messages only after the wait (seed {args.seed})"
    )
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="digest-bench-kills-") as name,
        SinkProcess(
            keep=False,
            fast_data=True,
            dot_delay=DOT_DELAY,
            late_commit_rate=LATE_COMMIT,
            seed=args.seed,
        ) as sink,
    ):
        world = make_world(
            Path(name), subscribers, sink.host, sink.port, connections=args.connections
        )
        killed = in_handed = handed_total = finished_early = 0
        rate = 60.0  # messages/s, refined from each run
        outputs: list[str] = []
        # No ledger row exists before the first send opens it.
        while killed < kills and (killed + finished_early == 0 or ledger_open(world)):
            sessions = sink.stats().sessions
            taken = sum(sink.counts().values())
            log = Path(name) / f"send-{killed}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    digest_cli(world, "send", "--week", WEEK),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
                # Wait for this run's first session, then a random moment within the
                # time that leaves work for the kills still to come.
                deadline = time.monotonic() + 60
                while sink.stats().sessions == sessions and proc.poll() is None:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
                started = time.monotonic()
                left = subscribers - len(sink.counts())
                budget = max(left, 1) / rate / (kills - killed + 1)
                time.sleep(rng.uniform(0, max(min(2 * budget, 3.0), 0.05)))
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                code = proc.wait()
            elapsed = time.monotonic() - started
            sent_now = sum(sink.counts().values()) - taken
            if elapsed > 0.05 and sent_now > 0:
                rate = 0.5 * rate + 0.5 * sent_now / elapsed
            if code == -signal.SIGKILL:
                killed += 1
                handed = handed_rows(world)
                handed_total += handed
                in_handed += handed > 0
            else:
                finished_early += 1
                outputs.append(log.read_text("utf-8", "replace"))
                if code not in (0, 1):
                    print(f"  a run exited {code}: {log.read_text('utf-8', 'replace')[-400:]}")
        final_runs = 0
        final = ""
        while final_runs < MAX_FINAL_RUNS:
            final_runs += 1
            code, final = run_cli(world, "send", "--week", WEEK)
            if not ledger_open(world):
                break
        closed = not ledger_open(world)
        list_code, listed = run_cli(world, "deliveries", "list", "--week", WEEK)
        counts = sink.counts()
        with Store(world.settings.storage_path) as store:
            rows = {r.email: r for r in store.delivery_rows(WEEK)}
            statuses = {k: v for k, v in store.ledger_counts(WEEK).items() if v}
    seconds = time.perf_counter() - t0
    missing = [e for e in world.emails if counts.get(e, 0) == 0]
    named_final, named_list = named_in(final), named_in(listed)
    unnamed = [e for e in missing if e not in named_final or e not in named_list]
    extra = {e: n - 1 for e, n in counts.items() if n > 1}
    duplicates = sum(extra.values())
    unknown_rows = sum(1 for r in rows.values() if r.unknowns > 0)
    unknowns = sum(r.unknowns for r in rows.values())
    unrecorded = [e for e, n in extra.items() if e not in rows or rows[e].unknowns < n]
    unknown_status = [e for e, r in rows.items() if r.status == "unknown"]
    missing_unknown = [e for e in missing if e in unknown_status]
    share = in_handed / killed if killed else 0.0

    print(
        f"  {killed} kills ({finished_early} runs ended before their kill), then "
        f"{final_runs} final run(s) (last exit {code}); ledger closed: {closed}; "
        f"{seconds:.0f} s in all"
    )
    print(
        f"  kills inside the handed window: {in_handed} of {killed} ({share:.0%}; "
        f"target ≥ {MIN_HANDED_SHARE:.0%}), {handed_total} rows found handed in all"
    )
    print(f"  ledger {statuses}; {sum(counts.values())} messages received by the sink")
    print(
        f"  missing readers: {len(missing)} (each named unknown/failed by the final send "
        f"and by `deliveries list`, exit {list_code}; of them {len(missing_unknown)} unknown)"
    )
    print(f"  missing readers that no output names: {len(unnamed)} (target 0)")
    print(
        f"  duplicates: {duplicates} extra copies to {len(extra)} readers; recorded "
        f"unknowns: {unknown_rows} rows ({unknowns} in all); duplicates not covered by "
        f"their row's unknowns: {len(unrecorded)} (target 0)"
    )
    for label, items in (("unnamed missing", unnamed), ("unrecorded duplicate", unrecorded)):
        if items:
            print(f"    {label}: {', '.join(items[:8])}{' …' if len(items) > 8 else ''}")
    ok = (
        killed >= kills
        and share >= MIN_HANDED_SHARE
        and closed
        and not unnamed
        and duplicates <= unknown_rows
        and not unrecorded
    )
    print(
        f"  kills {killed} ≥ {kills}; in handed {share:.0%} ≥ {MIN_HANDED_SHARE:.0%}; "
        f"unnamed missing {len(unnamed)} = 0; duplicates {duplicates} ≤ recorded unknowns "
        f"{unknown_rows}  {verdict(ok)}"
    )
    print(verdict(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
