"""Delivery that scales and never sends twice: throughput, memory, faults, crashes.

Every part sends a real issue (80 stories built from SQLite by `digest.run.pipeline`,
40 more reports merged into "also reported by" links: an ~84 KB HTML part, a
~157 KB message, like benchmarks/email_render.py's issue) to subscribers in a
real SQLite file, through an aiosmtpd sink on 127.0.0.1 running in a process of
its own (`digest.loopback.mailsink.SinkProcess`: keep=False, so it counts messages per
recipient and keeps no bytes; fast_data, so that reading DATA line by line does
not make the sink the bottleneck), and prints figures, targets and PASS/FAIL:

- throughput: 10,000 subscribers. Baseline, measured in the same run (before and
  after digest): a bare smtplib loop, one `smtplib.SMTP` per thread over the same
  number of connections (`[delivery] connections`, 4), sending the same bytes (one
  composed message, composed outside the timed part) to the same addresses.
  Then `digest.run.pipeline.send` (build + deliver, as `digest send` runs it).
  Target: digest's messages/s ≥ 0.8 × the better baseline. Peak RSS of a fresh
  `python -m digest send` at N/10 and at N subscribers (os.wait4's ru_maxrss);
  target: growth ≤ 5 MB (about 0.5 KB per extra subscriber: the ledger lives in
  SQLite, so memory must not grow with the count).
- faults: the sink answers 451 to 10 % of RCPT and 10 % of DATA and drops the
  connection, without a reply, after every 200th message's data. `digest send` is
  rerun ([delivery] retry_after = "0s") until the ledger has nothing left to try
  (at most 30 runs). Target: 0 subscribers missing; every extra copy belongs to a
  subscriber whose ledger row recorded an unknown outcome (and no more copies
  than 1 + unknowns); every `sent` row's Message-ID was received.
- variants: the same 10,000 subscribers spread over 20 distinct choices of
  countries (4 of the 8 each) and language (ja / en), each rendered once, against
  the same 10,000 all with one such choice, in the same run: four sends, each on
  a fresh database, in the order 1, 20, 20, 1 so that a change in the machine's
  load weighs on both; the one choice is the one whose message is nearest the
  twenty's mean size, so both send as many bytes. `digest.run.pipeline.send` as
  above, the rendering of the variants included (and timed apart).
  Target: messages/s with 20 choices ≥ 0.9 × with one.
- crashes: 2,000 subscribers; `python -m digest send` is killed with SIGKILL 20
  times at a random moment while it sends (once the run's first message has
  reached the sink, after a random delay sized to leave work for the kills still
  to come), rerun after each, then run to the end. Target: 0 missing;
  duplicates ≤ messages recorded in flight (rows with unknowns > 0), each
  duplicate recorded, and ≤ kills × connections.

- dkim: `benchmarks/dkim_speed.py` (unsigned against DKIM-signed sends of the
  same 10,000, several rounds, median and spread; every message of a 1,000-reader
  signed run verified by dkimpy).

Exits 1 on any FAIL. Run from the project folder:
    .venv/bin/python benchmarks/delivery.py [--quick]
        [--part throughput|variants|faults|crashes|dkim|all]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


from sendworld import (  # noqa: E402  (a sibling module)
    CHOICES,
    COUNTRIES,
    MAX_GROWTH_MB,
    MIN_RATIO,
    MIN_VARIANTS_RATIO,
    WEEK,
    RunResult,
    audit,
    bare_loop,
    ledger_open,
    make_world,
    message_bytes,
    run_send,
    run_to_completion,
    tail,
    utc_now,
    verdict,
)

from digest.credentials import ENV_SECRET, load_secrets  # noqa: E402
from digest.loopback.mailsink import SinkProcess  # noqa: E402
from digest.state.store import Store  # noqa: E402


def part_throughput(tmp: Path, subscribers: int, connections: int) -> bool:
    from digest.run.pipeline import send

    print(f"== throughput: {subscribers:,} subscribers, {connections} connections")
    ok = True
    with SinkProcess(keep=False, fast_data=True) as sink:
        world = make_world(
            tmp / "throughput", subscribers, sink.host, sink.port, connections=connections
        )
        data, sender, about = message_bytes(world)
        print(
            f"  issue: {about}; message {len(data) / 1024:.1f} KB (the baseline sends these "
            "bytes to every address, composed outside the timed part)"
        )
        baselines = []

        def baseline(label: str) -> None:
            sink.reset()
            seconds = bare_loop(sink.host, sink.port, sender, world.emails, data, connections)
            got = sink.counts()
            if len(got) != subscribers:
                raise RuntimeError(f"the baseline delivered to {len(got)} of {subscribers}")
            baselines.append(seconds)
            print(
                f"  bare smtplib loop ({label}): {subscribers / seconds:,.0f} messages/s "
                f"({seconds:.1f} s)"
            )

        baseline("before")
        sink.reset()
        with Store(world.settings.storage_path) as store:
            t0 = time.perf_counter()
            built, report = send(world.settings, load_secrets(), store, WEEK, utc_now)
            digest_seconds = time.perf_counter() - t0
            counts = store.ledger_counts(WEEK)
        received = sink.counts()
        digest_stats = sink.stats()
        baseline("after")
        exact = len(received) == subscribers and all(n == 1 for n in received.values())
        rate = subscribers / digest_seconds
        deliver_rate = subscribers / max(digest_seconds - built.seconds, 1e-9)
        best = subscribers / min(baselines)
        ratio = rate / best
        passed = ratio >= MIN_RATIO and exact
        ok &= passed
        print(
            f"  digest send: {rate:,.0f} messages/s ({digest_seconds:.1f} s incl. build "
            f"{built.seconds:.2f} s; {deliver_rate:,.0f}/s without it), "
            f"{digest_stats.sessions} SMTP sessions; ledger {counts}; "
            f"each subscriber exactly once: {exact}"
        )
        print(
            f"  ratio digest / best baseline {ratio:.2f} (target ≥ {MIN_RATIO})  {verdict(passed)}"
        )
        if not exact:
            print(f"  report: {report.summary_lines()[:5]}")

        # Peak memory of a fresh `digest send` at N/10 and N subscribers.
        peaks = {}
        for n in (max(subscribers // 10, 1), subscribers):
            sink.reset()
            w = make_world(tmp / f"memory-{n}", n, sink.host, sink.port, connections=connections)
            result = run_send(w, "memory")
            got = sink.counts()
            peaks[n] = result.maxrss_kb / 1024
            print(
                f"  peak RSS of `digest send` at {n:,} subscribers: {peaks[n]:.1f} MB "
                f"(exit {result.code}, {result.seconds:.1f} s, {len(got):,} received)"
            )
            if result.code != 0 or len(got) != n:
                ok = False
                print(f"  unexpected outcome:\n{tail(result.log)}")
        small, large = sorted(peaks)
        growth = peaks[large] - peaks[small]
        passed = growth <= MAX_GROWTH_MB
        ok &= passed
        print(
            f"  growth {small:,} → {large:,}: {growth:+.1f} MB, ratio "
            f"{peaks[large] / peaks[small]:.3f} (target ≤ {MAX_GROWTH_MB:.0f} MB)  "
            f"{verdict(passed)}"
        )
    return ok


def variant_choices() -> list[tuple[str, str]]:
    """20 distinct (language, countries): 4 of the 8 countries each, spread over
    the 70 such sets, half of them in English."""
    sets = list(itertools.combinations(COUNTRIES, 4))
    step = len(sets) / CHOICES
    return [("en" if n % 2 else "", " ".join(sorted(sets[int(n * step)]))) for n in range(CHOICES)]


def typical_choice(tmp: Path, choices: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The choice whose message is nearest in size to the mean of all `choices`
    (readers spread evenly over them): the one-choice run then sends as many bytes
    as the twenty-choice run, so the ratio measures the variants, not the sizes."""
    from digest.mail.compose import compose, prepare
    from digest.render.choice import reader_choice
    from digest.render.issue import render_variant
    from digest.run.pipeline import build

    world = make_world(tmp / "variants-sizes", 1, "127.0.0.1", 25)
    key = load_secrets().require_signing_key()
    with Store(world.settings.storage_path) as store:
        built = build(world.settings, store, WEEK, utc_now())
        reader = store.subscribers("active")[0]
    sizes = []
    for language, countries in choices:
        choice = reader_choice(language, countries.split(), world.settings)
        rendered = render_variant(built.issue, world.settings, choice)
        prepared = prepare(WEEK, rendered, world.settings)
        sizes.append(len(compose(prepared, reader, key, utc_now())[0]))
    mean = sum(sizes) / len(sizes)
    return choices[min(range(len(choices)), key=lambda i: abs(sizes[i] - mean))]


def part_variants(tmp: Path, subscribers: int, connections: int) -> bool:
    from digest.mail.compose import prepare
    from digest.run.pipeline import reader_variants, send

    choices = variant_choices()
    single = typical_choice(tmp, choices)
    print(
        f"== variants: {subscribers:,} subscribers over {len(choices)} choices of countries "
        f"(4 of 8 each) and language (ja, en) vs all with one ({single[0] or 'ja'}: "
        f"{single[1]}, the choice of typical message size), {connections} connections; "
        "runs in the order 1, 20, 20, 1 so that a change in the machine's load weighs on both"
    )
    seconds: dict[str, float] = {"one": 0.0, "twenty": 0.0}
    ok = True
    with SinkProcess(keep=False, fast_data=True) as sink:
        for n, label in enumerate(("one", "twenty", "twenty", "one")):
            one = label == "one"
            world = make_world(
                tmp / f"variants-{n}",
                subscribers,
                sink.host,
                sink.port,
                connections=connections,
                choice=(lambda i: single) if one else (lambda i: choices[i % len(choices)]),
            )
            sink.reset()
            with Store(world.settings.storage_path) as store:
                t0 = time.perf_counter()
                built, report = send(world.settings, load_secrets(), store, WEEK, utc_now)
                took = time.perf_counter() - t0
                # What rendering the variants costs, measured apart (nothing sent).
                r0 = time.perf_counter()
                full = prepare(WEEK, built.rendered, world.settings)
                reader_variants(world.settings, store, built.issue, full)
                render_seconds = time.perf_counter() - r0
            received = sink.counts()
            stats = sink.stats()
            exact = len(received) == subscribers and all(c == 1 for c in received.values())
            ok &= exact and report.sent == subscribers
            seconds[label] += took
            print(
                f"  {'1 choice ' if one else f'{len(choices)} choices'}: "
                f"{subscribers / took:,.0f} messages/s ({took:.1f} s incl. build "
                f"{built.seconds:.2f} s; {report.variants} renderings, which take "
                f"{render_seconds:.2f} s); mean message "
                f"{stats.bytes / max(stats.accepted, 1) / 1024:.1f} KB; each subscriber "
                f"exactly once: {exact}"
            )
    rate_one = 2 * subscribers / seconds["one"]
    rate_twenty = 2 * subscribers / seconds["twenty"]
    ratio = rate_twenty / rate_one
    passed = ratio >= MIN_VARIANTS_RATIO and ok
    print(
        f"  {len(choices)} choices {rate_twenty:,.0f} messages/s, 1 choice {rate_one:,.0f} "
        f"messages/s (both runs of each): ratio {ratio:.2f} "
        f"(target ≥ {MIN_VARIANTS_RATIO}×)  {verdict(passed)}"
    )
    return passed


def part_faults(tmp: Path, subscribers: int, connections: int, seed: int) -> bool:
    print(
        f"== faults: {subscribers:,} subscribers; 451 to 10% of RCPT and of DATA, "
        f"connection dropped after every 200th message (seed {seed})"
    )
    with SinkProcess(
        keep=False, fast_data=True, rcpt_rate=0.10, data_rate=0.10, drop_every=200, seed=seed
    ) as sink:
        world = make_world(
            tmp / "faults", subscribers, sink.host, sink.port, connections=connections
        )
        runs: list[RunResult] = []
        t0 = time.perf_counter()
        done = run_to_completion(world, "faults", runs)
        seconds = time.perf_counter() - t0
        stats = sink.stats()
        before = sink.counts()
        # One more run must send nothing.
        again = run_send(world, "faults-again")
        resent = sum(sink.counts().values()) - sum(before.values())
        result = audit(world, sink)
    codes = [r.code for r in runs]
    print(
        f"  {len(runs)} runs (exit codes {codes}) in {seconds:.1f} s; ledger closed: {done}; "
        f"sink: {stats.accepted} accepted, {stats.dropped} dropped without reply, "
        f"{stats.rcpt_refused} RCPT and {stats.data_refused} DATA answered 451, "
        f"{stats.sessions} sessions"
    )
    for line in result.lines():
        print(line)
    print(f"  a further run sent {resent} (exit {again.code}; target 0)")
    passed = done and result.ok() and resent == 0
    print(f"  faults {verdict(passed)}")
    return passed


def part_crashes(tmp: Path, subscribers: int, kills: int, connections: int, seed: int) -> bool:
    print(f"== crashes: {subscribers:,} subscribers, SIGKILL {kills} times while sending")
    rng = random.Random(seed)
    with SinkProcess(keep=False, fast_data=True) as sink:
        world = make_world(
            tmp / "crashes", subscribers, sink.host, sink.port, connections=connections
        )
        killed = 0
        runs: list[RunResult] = []
        rate = 300.0  # messages/s, refined from each run
        attempt = 0
        while killed < kills and attempt < kills * 3:
            attempt += 1
            before = sink.stats()
            taken = before.accepted + before.dropped
            started: list[float] = []

            def wait_then_pick(
                taken: int = taken,
                started: list[float] = started,
                rate: float = rate,
                killed: int = killed,
            ) -> float:
                # Wait until this run's first message arrives, then a random moment
                # within the time that leaves work for the kills still to come.
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    s = sink.stats()
                    if s.accepted + s.dropped > taken:
                        break
                    time.sleep(0.005)
                started.append(time.monotonic())
                left = subscribers - len(sink.counts())
                budget = left / rate / (kills - killed + 1)
                return rng.uniform(0, max(min(2 * budget, 3.0), 0.02))

            result = run_send(world, f"crash-{attempt}", kill_after=wait_then_pick)
            runs.append(result)
            after = sink.stats()
            if started:
                elapsed = time.monotonic() - started[0]
                sent_now = after.accepted + after.dropped - taken
                if elapsed > 0.05 and sent_now > 0:
                    rate = 0.5 * rate + 0.5 * sent_now / elapsed
            if result.code == -signal.SIGKILL:
                killed += 1
            elif result.code not in (0, 1):
                print(f"  run {attempt} exited {result.code}:\n{tail(result.log)}")
            if not ledger_open(world) and killed < kills:
                print(f"  the ledger closed after {killed} kills: every message went out")
                break
        finishing: list[RunResult] = []
        done = run_to_completion(world, "final", finishing)
        result = audit(world, sink)
    print(
        f"  {killed} runs killed, {attempt - killed} ran to their end; then "
        f"{len(finishing)} final runs (exit codes {[r.code for r in finishing]}); "
        f"ledger closed: {done}"
    )
    for line in result.lines():
        print(line)
    bound = killed * connections
    passed = (
        done
        and killed == kills
        and result.ok()
        and result.extra <= result.unknown_rows
        and result.extra <= bound
    )
    print(
        f"  duplicates {result.extra} ≤ recorded in flight {result.unknown_rows} and ≤ "
        f"kills × connections {bound}; killed {killed} of {kills}  crashes {verdict(passed)}"
    )
    return passed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--part",
        choices=("throughput", "variants", "faults", "crashes", "dkim", "all"),
        default="all",
    )
    parser.add_argument("--quick", action="store_true", help="smaller numbers, for a quick look")
    parser.add_argument("--subscribers", type=int, help="throughput, variants and faults (10,000)")
    parser.add_argument("--crash-subscribers", type=int, help="crashes (2,000)")
    parser.add_argument("--kills", type=int, help="SIGKILLs in the crash part (20)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seed", type=int, default=47)
    args = parser.parse_args(argv)
    subscribers = args.subscribers or (1_000 if args.quick else 10_000)
    crash_subscribers = args.crash_subscribers or (500 if args.quick else 2_000)
    kills = args.kills or (8 if args.quick else 20)
    if not os.environ.get(ENV_SECRET):
        os.environ[ENV_SECRET] = secrets.token_urlsafe(32)  # this run only
    ok = True
    with tempfile.TemporaryDirectory(prefix="digest-bench-delivery-") as name:
        tmp = Path(name)
        if args.part in ("throughput", "all"):
            ok &= part_throughput(tmp, subscribers, args.connections)
        if args.part in ("variants", "all"):
            ok &= part_variants(tmp, subscribers, args.connections)
        if args.part in ("faults", "all"):
            ok &= part_faults(tmp, subscribers, args.connections, args.seed)
        if args.part in ("dkim", "all"):
            from dkim_speed import part_dkim  # a sibling benchmark: dkimpy is `dkim`

            ok &= part_dkim(tmp, subscribers, args.connections)
        if args.part in ("crashes", "all"):
            ok &= part_crashes(tmp, crash_subscribers, kills, args.connections, args.seed)
    print(verdict(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
