"""The labelled feed corpus, read through digest's real gathering path.

Owns: serving a folder of feed files over loopback HTTP, gathering them with
`digest.fetch.gather` into a temporary SQLite store, and matching every row of a
labels file (`file`, `item`, `title`, `country`, `is_ai`, tab-separated; `item`
is the entry's guid/id as feedparser reports it, else its link) to the stored
`Post`. Shared by the benchmarks that score classification and relevance.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.config import Settings, parse_settings
from digest.editorial.cluster import title_key
from digest.fetch.gather import gather
from digest.fetch.normalize import canonical_url
from digest.loopback.feedserver import FeedServer
from digest.models import Post
from digest.state.store import Store

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DEFAULT_FEEDS = SHARED / "feeds"
DEFAULT_LABELS = SHARED / "labels.tsv"
DEFAULT_HINTS = Path(__file__).with_name("corpus_hints.toml")
NOW = datetime(2026, 11, 22, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Labelled:
    file: str
    item: str
    title: str  # as labelled
    country: str  # ISO code, or XX for global / none
    is_ai: bool
    post: Post | None  # the stored post, None when it could not be matched


def read_labels(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_hints(path: Path | None) -> dict[str, dict[str, object]]:
    """file name → [[feeds]] keys (`country`, `local`), as a user would configure them."""
    if path is None or not path.exists():
        return {}
    return {k: dict(v) for k, v in tomllib.loads(path.read_text("utf-8")).items()}


def gather_corpus(
    feeds_dir: Path,
    labels_file: Path,
    config: dict[str, object] | None = None,
    hints: dict[str, dict[str, object]] | None = None,
) -> tuple[list[Labelled], Settings]:
    """Serve, gather and match. `config` adds keys to the generated settings."""
    rows = read_labels(labels_file)
    digest_log = logging.getLogger("digest")
    level = digest_log.level
    digest_log.setLevel(logging.ERROR)  # broken corpus feeds are expected: keep the output short
    try:
        return _gather_and_match(feeds_dir, rows, config or {}, hints or {})
    finally:
        digest_log.setLevel(level)


def _gather_and_match(
    feeds_dir: Path,
    rows: list[dict[str, str]],
    config: dict[str, object],
    hints: dict[str, dict[str, object]],
) -> tuple[list[Labelled], Settings]:
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        urls = {Path(u).name: u for u in server.serve_directory(feeds_dir)}
        data: dict[str, object] = {
            "feeds": [{"url": url, **hints.get(name, {})} for name, url in urls.items()],
            "storage": {"path": f"{tmp}/corpus.sqlite3"},
            # Served on loopback, which digest refuses unless allowed.
            "gather": {"allow_private": ["127.0.0.1"]},
        }
        data.update(config)
        settings = parse_settings(data, Path("benchmark.toml"))
        with Store(settings.storage_path) as store:
            gather(settings, store, NOW)
            posts = store.posts_between(EPOCH, datetime(9999, 1, 1, tzinfo=UTC))
    by_feed: dict[str, list[Post]] = {}
    for post in posts:
        by_feed.setdefault(post.feed_url, []).append(post)
    result = []
    for row in rows:
        candidates = by_feed.get(urls.get(row["file"], ""), [])
        result.append(
            Labelled(
                file=row["file"],
                item=row["item"],
                title=row["title"],
                country=row["country"].strip().upper(),
                is_ai=row["is_ai"].strip().lower() == "yes",
                post=_match(row, candidates),
            )
        )
    return result, settings


def _match(row: dict[str, str], posts: list[Post]) -> Post | None:
    item, key = row["item"], title_key(row["title"])
    for test in (
        lambda p: p.post_id == item,
        lambda p: p.post_id.endswith(item) or item.endswith(p.post_id),
        lambda p: bool(p.url) and p.url == canonical_url(item),
        lambda p: title_key(p.title) == key,
    ):
        found = [p for p in posts if test(p)]
        if found:
            return found[0]
    return None
