"""The world the delivery benchmarks send in: a real 80-story issue built from
SQLite, subscribers in a real SQLite file, a sink process, and the checks made
of what it received.

Owns: `make_world` (the issue's posts, the config, the subscribers), running
`digest send` in-process or as a process (`run_send`), the bare smtplib
baseline (`bare_loop`) and the audit of what the sink counted (`audit`).
Doesn't own: the parts and their targets (benchmarks/delivery.py,
benchmarks/dkim_speed.py).
"""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from email_render import STORIES_BY_COUNTRY  # noqa: E402  (a sibling benchmark)

from digest.config import Settings, load_settings  # noqa: E402
from digest.credentials import load_secrets  # noqa: E402
from digest.loopback.mailsink import SinkProcess  # noqa: E402
from digest.models import Post  # noqa: E402
from digest.state.store import Store, to_db_time  # noqa: E402

WEEK = "2026-W47"  # publish Mon 2026-11-23 08:00 Asia/Tokyo
STORIES = 80
MIN_RATIO = 0.8
MIN_VARIANTS_RATIO = 0.9
CHOICES = 20
MAX_GROWTH_MB = 5.0
MAX_RERUNS = 30
PYTHON = sys.executable

COUNTRIES = ["JP", "KR", "CN", "HK", "TW", "SG", "IN", "AE"]
ACTORS = {
    "JP": ["ソフトバンク", "楽天", "富士通", "NTT", "Sakana AI", "Preferred Networks"],
    "KR": ["Samsung", "Naver", "카카오", "LG", "Upstage", "SK hynix"],
    "CN": ["百度", "阿里云", "腾讯", "字节跳动", "小米", "DeepSeek"],
    "HK": ["數碼港", "香港科技園", "HKUST", "Lenovo Hong Kong", "SenseTime HK", "HKMA"],
    "TW": ["台積電", "MediaTek", "Foxconn", "ASUS", "Quanta", "Wistron"],
    "SG": ["Sea Group", "Grab", "IMDA", "AI Singapore", "DBS", "Temasek"],
    "IN": ["Infosys", "Reliance Jio", "TCS", "Krutrim", "Sarvam AI", "Wipro"],
    "AE": ["G42", "MBZUAI", "Core42", "Mubadala", "e&", "ADNOC"],
}
ACTIONS = [
    "opens a research lab",
    "raises $1.2bn for a new data centre",
    "launches an open-weights model",
    "signs a multi-year chip supply deal",
    "cuts inference prices by half",
    "hires 300 engineers for its AI unit",
    "wins a government AI contract",
    "unveils an AI agent for enterprises",
    "partners with Nvidia on sovereign AI",
    "publishes a safety framework",
]


def make_posts() -> list[Post]:
    """80 distinct events, about ten per country, each with a long summary (truncated
    by the renderer like real feed summaries), so the email is a real issue's size."""
    base = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    posts = []
    for i in range(STORIES):
        code = COUNTRIES[i % len(COUNTRIES)]
        actor = ACTORS[code][(i // len(COUNTRIES)) % len(ACTORS[code])]
        action = ACTIONS[(i // len(COUNTRIES) + i) % len(ACTIONS)]
        variants = STORIES_BY_COUNTRY[code]
        _, padding, _ = variants[i % len(variants)]
        lead = (
            f"{actor} said on day {1 + i % 7} that the project (no. {i}) would employ "
            f"{40 + 7 * i} people and cost {1 + i % 9}.{i % 10}bn."
        )
        url = (
            f"https://www.example-news-{i % 7}.com/articles/2026/11/{18 + i % 5}/"
            f"ai-{i:04d}-story-with-a-realistic-and-rather-long-slug?ref=rss&id={i}"
        )
        # Every third story was also reported by one or two other feeds (the same
        # article under a tracking parameter): merged into "also reported by" links.
        sources = [code] + (
            [COUNTRIES[(i + k) % 8] for k in (1, 2)][: 1 + i % 2] if i % 3 == 0 else []
        )
        for k, source in enumerate(sources):
            posts.append(
                Post(
                    feed_url=f"https://feeds.example.com/{source.lower()}.xml",
                    post_id=f"post-{i}-{k}",
                    url=url + (f"&utm_source=rss{k}" if k else ""),
                    title=f"{actor} {action} (report {i})",
                    summary=f"{lead} {padding}",
                    published=base + timedelta(hours=2 * i + 1, minutes=k),
                    first_seen=base + timedelta(hours=2 * i + 2, minutes=k),
                )
            )
    return posts


CONFIG = """\
[digest]
title = "アジアAIハブ週報"
language = "ja"
timezone = "Asia/Tokyo"
publish = "mon 08:00"
contact = "editor@example.com"
max_per_section = 40

{feeds}
[smtp]
host = "{host}"
port = {port}
security = "none"
from = "アジアAIハブ週報 <digest@example.com>"
timeout = 30

[delivery]
connections = {connections}
retry_after = "{retry_after}"
max_retry_after = "{retry_after}"

[storage]
path = "{folder}/digest.sqlite3"

[archive]
dir = "{folder}/archive"
base_url = "https://digest.example.com/"
allow_placeholder_links = true  # the example domain: send refuses it otherwise
"""


@dataclass
class World:
    folder: Path
    config: Path
    settings: Settings
    emails: list[str]


def make_world(
    folder: Path,
    subscribers: int,
    host: str,
    port: int,
    *,
    connections: int = 4,
    retry_after: str = "0s",
    choice: Callable[[int], tuple[str, str]] | None = None,
) -> World:
    """`choice(i)`: subscriber i's (language, countries) as stored ("" each: the
    digest's language, every section)."""
    folder.mkdir(parents=True, exist_ok=True)
    feeds = "\n".join(
        f'[[feeds]]\nurl = "https://feeds.example.com/{c.lower()}.xml"\n'
        f'name = "{c} AI news"\ncountry = "{c}"\n'
        for c in COUNTRIES
    )
    config = folder / "digest.toml"
    config.write_text(
        CONFIG.format(
            feeds=feeds,
            host=host,
            port=port,
            connections=connections,
            retry_after=retry_after,
            folder=folder.as_posix(),
        ),
        encoding="utf-8",
    )
    settings = load_settings(config)
    now = to_db_time(datetime(2026, 11, 20, tzinfo=UTC))
    emails = [f"reader{i:05d}@example.org" for i in range(subscribers)]
    with Store(settings.storage_path) as store:
        store.add_posts(make_posts())
    # Setup only: one transaction for every subscriber (add_subscriber is one each).
    pick = choice or (lambda i: ("", ""))
    db = sqlite3.connect(settings.storage_path)
    with db:
        db.executemany(
            "INSERT INTO subscribers (email, name, status, created, updated, language, "
            "countries) VALUES (?, ?, 'active', ?, ?, ?, ?)",
            [
                (e, f"読者 {i}" if i % 3 == 0 else "", now, now, *pick(i))
                for i, e in enumerate(emails)
            ],
        )
    db.close()
    return World(folder, config, settings, emails)


def digest_cli(world: World, *args: str) -> list[str]:
    return [PYTHON, "-m", "digest", "--config", str(world.config), *args]


def send_command(world: World) -> list[str]:
    return digest_cli(world, "send", "--week", WEEK)


def utc_now() -> datetime:
    return datetime.now(UTC)


def message_bytes(world: World) -> tuple[bytes, str, str]:
    """One subscriber's message exactly as digest composes it, the sender address,
    and a description of the issue."""
    from digest.mail import compose as composing
    from digest.run.pipeline import build

    key = load_secrets().require_signing_key()
    with Store(world.settings.storage_path) as store:
        built = build(world.settings, store, WEEK, utc_now())
        first = store.subscribers("active")[0]
    issue = built.issue
    about = (
        f"{issue.story_count} stories ({issue.duplicates_merged} reports merged), "
        f"HTML part {len(built.rendered.html_email.encode()) / 1024:.1f} KB"
    )
    prepared = composing.prepare(WEEK, built.rendered, world.settings)
    composed: Any = composing.compose(prepared, first, key, utc_now())
    if isinstance(composed, tuple):  # (bytes, message id)
        composed = composed[0]
    if not isinstance(composed, bytes):  # an EmailMessage
        composed = composing.to_bytes(composed)  # type: ignore[attr-defined]
    return composed, parseaddr(world.settings.sender)[1], about


def bare_loop(
    host: str, port: int, sender: str, addresses: Sequence[str], data: bytes, connections: int
) -> float:
    """Seconds for `connections` threads, one smtplib.SMTP each, to send `data` to
    every address (a shared queue of addresses): the floor digest is compared with."""
    queue = iter(addresses)
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(connections + 1)

    def worker() -> None:
        try:
            start.wait()
            conn = smtplib.SMTP(host, port, timeout=60)
            try:
                while True:
                    with lock:
                        address = next(queue, None)
                    if address is None:
                        break
                    conn.sendmail(sender, [address], data)
            finally:
                conn.quit()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"baseline loop failed: {errors[0]!r}")
    return seconds


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class RunResult:
    code: int
    seconds: float
    maxrss_kb: int
    log: Path


def run_send(world: World, tag: str, *, kill_after: Callable[[], float] | None = None) -> RunResult:
    """`python -m digest send --week W` in a fresh process; its exit code, wall time
    and peak RSS. With `kill_after`: called once the process runs, returns seconds
    to wait before SIGKILL (code -9 when it was killed)."""
    log = world.folder / f"send-{tag}.log"
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(send_command(world), stdout=out, stderr=subprocess.STDOUT)
        if kill_after is not None:
            delay = kill_after()
            if delay >= 0:
                time.sleep(delay)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - t0
    return RunResult(proc.returncode, seconds, usage.ru_maxrss, log)


def tail(path: Path, lines: int = 6) -> str:
    text = path.read_text("utf-8", "replace").splitlines()
    return "\n".join("    | " + line for line in text[-lines:])


# -- checks shared by faults and crashes ---------------------------------------


@dataclass
class Audit:
    subscribers: int
    received: int  # messages the sink took
    missing: list[str]
    duplicates: dict[str, int]  # address → extra copies
    unrecorded: list[str]  # duplicated, but the ledger recorded no (or too few) unknowns
    unknown_rows: int  # rows with unknowns > 0
    unknowns: int  # sum of unknowns
    lost_ids: list[str]  # `sent` rows whose Message-ID never reached the sink
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def extra(self) -> int:
        return sum(self.duplicates.values())

    def ok(self) -> bool:
        return not self.missing and not self.unrecorded and not self.lost_ids

    def lines(self) -> list[str]:
        out = [
            f"  {self.subscribers} subscribers, {self.received} messages received; "
            f"ledger {self.statuses}",
            f"  missing {len(self.missing)} (target 0)   duplicates {len(self.duplicates)} "
            f"subscribers / {self.extra} extra copies   recorded unknowns: {self.unknown_rows} "
            f"rows, {self.unknowns} in all   duplicates not recorded {len(self.unrecorded)} "
            f"(target 0)   sent rows whose Message-ID never arrived {len(self.lost_ids)} "
            f"(target 0)",
        ]
        for name, items in (
            ("missing", self.missing),
            ("unrecorded duplicate", self.unrecorded),
            ("lost Message-ID", self.lost_ids),
        ):
            if items:
                out.append(f"    {name}: {', '.join(items[:8])}{' …' if len(items) > 8 else ''}")
        return out


def audit(world: World, sink: SinkProcess) -> Audit:
    counts = sink.counts()
    ids: dict[str, set[str]] = {}
    for receipt in sink.receipts():
        ids.setdefault(receipt.recipient, set()).add(receipt.message_id)
    with Store(world.settings.storage_path) as store:
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
        statuses = store.ledger_counts(WEEK)
    missing = [e for e in world.emails if counts.get(e, 0) == 0]
    duplicates = {e: n - 1 for e, n in counts.items() if n > 1}
    unrecorded = [e for e, extra in duplicates.items() if e not in rows or rows[e].unknowns < extra]
    lost = [
        f"{r.email} {r.message_id}"
        for r in rows.values()
        if r.status == "sent" and r.message_id not in ids.get(r.email, set())
    ]
    return Audit(
        subscribers=len(world.emails),
        received=sum(counts.values()),
        missing=missing,
        duplicates=duplicates,
        unrecorded=unrecorded,
        unknown_rows=sum(1 for r in rows.values() if r.unknowns > 0),
        unknowns=sum(r.unknowns for r in rows.values()),
        lost_ids=lost,
        statuses={k: v for k, v in statuses.items() if v},
    )


def ledger_open(world: World) -> bool:
    with Store(world.settings.storage_path) as store:
        return store.ledger_open(WEEK)


def run_to_completion(world: World, tag: str, runs: list[RunResult]) -> bool:
    """Rerun `digest send` until the ledger has nothing left to try; False if it
    still has after MAX_RERUNS runs."""
    for n in range(MAX_RERUNS):
        result = run_send(world, f"{tag}-{n}")
        runs.append(result)
        if result.code not in (0, 1):
            print(f"  run {tag}-{n} exited {result.code}:\n{tail(result.log)}")
        if not ledger_open(world):
            return True
    return False


# -- the parts -------------------------------------------------------------------
