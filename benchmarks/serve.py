"""`digest serve` under load while a 10,000-reader send runs on the same database.

Everything is real and on loopback: `python -m digest serve` (waitress) and `python
-m digest send` run as processes of their own on one SQLite file; the issue goes to
an aiosmtpd sink in a third process (benchmarks/delivery.py's world: 80 stories,
~157 KB messages, 4 connections), and so do the confirmation mails the signups
trigger. Load, for as long as the send runs: threads posting /subscribe forms (each
its own address, with the CSRF token of its session) at `--signups` per second, and
threads posting RFC 8058 one-click unsubscribes for readers of the list (their
signed tokens) at `--unsubscribes` per second: far more than a newsletter's busiest
hour (a paced load, so that the figure says what readers see at that rate, not how a
2-core machine splits itself between a flood and the send). Then the same endpoints
unpaced, with no send running: the most `digest serve` answers.

Prints, with targets and PASS/FAIL:
- requests/s and p50/p99 latency of each endpoint during the send;
- errors: any 5xx answer, and "database is locked" in either process's log (0);
- lost writes: every signup answered 200 is a pending row, every one-click
  answered 200 is an unsubscribed row (0 lost);
- the send's rate with the load vs a send alone, measured in the same run on an
  identical world (≥ 0.8×).

Run from the project folder:
    .venv/bin/python benchmarks/serve.py [--subscribers N] [--signups R] [--unsubscribes R]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from sendworld import (  # noqa: E402  (a sibling module: the same world and send)
    PYTHON,
    World,
    make_world,
    run_send,
    verdict,
)

from digest.credentials import ENV_SECRET, load_secrets  # noqa: E402
from digest.loopback.mailsink import SinkProcess  # noqa: E402
from digest.state.store import Store  # noqa: E402
from digest.tokens import make_token  # noqa: E402

MIN_SEND_RATIO = 0.8
PEAK_SECONDS = 5.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WEB = """
[web]
url = "https://digest.example.com/"
ip_limit = "1000000/minute"
address_limit = "1000/day"
archive = false
"""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    ok: list[str] = field(default_factory=list)  # addresses written (200)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, code: int, address: str) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 200:
                self.ok.append(address)

    def line(self, name: str, seconds: float) -> str:
        lat = sorted(self.latencies) or [0.0]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        n = len(self.latencies)
        answers = dict(sorted(self.codes.items()))
        return (
            f"  {name:<28} {n:6d} requests  {n / seconds:7.1f}/s  "
            f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  answers {answers}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(world: World, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = world.folder / "serve.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [PYTHON, "-m", "digest", "--config", str(world.config), "serve", "--port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=2).status_code == 200:
                return proc, log
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"digest serve did not answer; see {log}")


def _pace(started: float, done: int, interval: float, stop: threading.Event) -> None:
    """Wait until this worker's next request is due (`interval` 0: at once)."""
    delay = started + done * interval - time.perf_counter()
    if delay > 0:
        stop.wait(delay)


def signups(
    base: str, tally: Tally, stop: threading.Event, worker: int, interval: float = 0.0
) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        token = CSRF.search(client.get("/subscribe").text).group(1)  # type: ignore[union-attr]
        n = 0
        started = time.perf_counter()
        while not stop.is_set():
            _pace(started, n, interval, stop)
            if stop.is_set():
                break
            address = f"new-{worker}-{n}@example.net"
            n += 1
            t0 = time.perf_counter()
            answer = client.post(
                "/subscribe",
                data={"csrf_token": token, "email": address, "countries": ["KR", "JP"]},
            )
            tally.add(time.perf_counter() - t0, answer.status_code, address)


def one_clicks(
    base: str,
    tally: Tally,
    stop: threading.Event,
    tokens: list[tuple[str, str]],
    interval: float = 0.0,
) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        done = 0
        started = time.perf_counter()
        while not stop.is_set():
            _pace(started, done, interval, stop)
            done += 1
            try:
                address, token = tokens.pop()
            except IndexError:
                break
            t0 = time.perf_counter()
            answer = client.post(
                f"/unsubscribe?token={token}",
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            tally.add(time.perf_counter() - t0, answer.status_code, address)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8, help="load threads (half each kind)")
    parser.add_argument("--signups", type=float, default=10.0, help="offered signups per second")
    parser.add_argument(
        "--unsubscribes", type=float, default=30.0, help="offered one-clicks per second"
    )
    args = parser.parse_args(argv)
    if not os.environ.get(ENV_SECRET):
        os.environ[ENV_SECRET] = secrets.token_urlsafe(32)  # this run only
    key = load_secrets().require_signing_key()
    ok = True
    with (
        tempfile.TemporaryDirectory(prefix="digest-bench-serve-") as tmp,
        SinkProcess(keep=False, fast_data=True) as sink,
    ):
        folder = Path(tmp)
        alone = make_world(folder / "alone", args.subscribers, sink.host, sink.port)
        first = run_send(alone, "alone")
        if first.code != 0:
            print(f"the send alone failed ({first.code}); see {first.log}")
            return 1
        rate_alone = args.subscribers / first.seconds

        busy = make_world(folder / "busy", args.subscribers, sink.host, sink.port)
        with busy.config.open("a", encoding="utf-8") as f:
            f.write(WEB)
        port = free_port()
        serve, serve_log = start_serve(busy, port)
        base = f"http://127.0.0.1:{port}"
        with Store(busy.settings.storage_path) as store:
            readers = store.subscribers("active")[-6000:]
        tokens = [(r.email, make_token(key, r)) for r in readers]
        stop = threading.Event()
        subscribe_tally, unsubscribe_tally = Tally(), Tally()
        per_kind = max(1, args.clients // 2)
        threads = [
            threading.Thread(
                target=signups,
                args=(base, subscribe_tally, stop, i, per_kind / args.signups),
            )
            for i in range(per_kind)
        ] + [
            threading.Thread(
                target=one_clicks,
                args=(base, unsubscribe_tally, stop, tokens, per_kind / args.unsubscribes),
            )
            for _ in range(per_kind)
        ]
        t0 = time.perf_counter()
        send_result: list[object] = []
        sender = threading.Thread(target=lambda: send_result.append(run_send(busy, "busy")))
        sender.start()
        for t in threads:
            t.start()
        sender.join()
        stop.set()
        for t in threads:
            t.join()
        loaded = time.perf_counter() - t0
        # The most it answers: the same endpoints unpaced, with no send running.
        peak_sub, peak_unsub = Tally(), Tally()
        peak_stop = threading.Event()
        peak = [
            threading.Thread(target=signups, args=(base, peak_sub, peak_stop, 100 + i))
            for i in range(per_kind)
        ] + [
            threading.Thread(target=one_clicks, args=(base, peak_unsub, peak_stop, tokens))
            for _ in range(per_kind)
        ]
        for t in peak:
            t.start()
        time.sleep(PEAK_SECONDS)
        peak_stop.set()
        for t in peak:
            t.join()
        serve.terminate()
        serve.wait(timeout=30)
        second = send_result[0]
        assert hasattr(second, "seconds")
        rate_busy = args.subscribers / second.seconds  # type: ignore[attr-defined]

        db = sqlite3.connect(busy.settings.storage_path)
        pending = {
            r[0] for r in db.execute("SELECT email FROM subscribers WHERE status = 'pending'")
        }
        left = {
            r[0] for r in db.execute("SELECT email FROM subscribers WHERE status = 'unsubscribed'")
        }
        db.close()
        lost_signups = [a for a in subscribe_tally.ok + peak_sub.ok if a not in pending]
        lost_unsubscribes = [a for a in unsubscribe_tally.ok + peak_unsub.ok if a not in left]
        logs = serve_log.read_text("utf-8", "replace") + second.log.read_text("utf-8", "replace")  # type: ignore[attr-defined]
        locked = logs.lower().count("database is locked")
        errors = sum(
            n
            for t in (subscribe_tally, unsubscribe_tally, peak_sub, peak_unsub)
            for c, n in t.codes.items()
            if c >= 500
        )

        print(
            f"digest serve during a {args.subscribers:,}-reader send ({loaded:.1f} s; offered "
            f"{args.signups:g} signups/s and {args.unsubscribes:g} one-clicks/s)"
        )
        print(subscribe_tally.line("POST /subscribe", loaded))
        print(unsubscribe_tally.line("POST /unsubscribe (1-click)", loaded))
        print(f"digest serve alone, unpaced ({per_kind} threads each, {PEAK_SECONDS:g} s)")
        print(peak_sub.line("POST /subscribe", PEAK_SECONDS))
        print(peak_unsub.line("POST /unsubscribe (1-click)", PEAK_SECONDS))
        checks = [
            (f"5xx answers: {errors} (target 0)", errors == 0),
            (f"'database is locked' in the logs: {locked} (target 0)", locked == 0),
            (
                f"signups answered 200 but not stored: {len(lost_signups)} of "
                f"{len(subscribe_tally.ok)} (target 0)",
                not lost_signups,
            ),
            (
                f"one-clicks answered 200 but not unsubscribed: {len(lost_unsubscribes)} of "
                f"{len(unsubscribe_tally.ok)} (target 0)",
                not lost_unsubscribes,
            ),
            (
                f"send rate: alone {rate_alone:.0f} msg/s, with the load {rate_busy:.0f} msg/s, "
                f"ratio {rate_busy / rate_alone:.2f} (target ≥ {MIN_SEND_RATIO})",
                rate_busy / rate_alone >= MIN_SEND_RATIO,
            ),
            (
                f"send exit codes: alone {first.code}, with the load {second.code} (target 0)",  # type: ignore[attr-defined]
                first.code == 0 and second.code == 0,
            ),  # type: ignore[attr-defined]
        ]
        for text, passed in checks:
            print(f"  {text}: {verdict(passed)}")
            ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
