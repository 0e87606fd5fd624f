"""The Store on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import Post
from digest.store import SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_post(n: int, **kw: object) -> Post:
    values: dict[str, object] = dict(
        feed_url="https://a.example/feed",
        post_id=f"g{n}",
        url=f"https://a.example/{n}",
        title=f"title {n}",
        summary="s",
        published=NOW - timedelta(hours=n),
        first_seen=NOW,
    )
    values.update(kw)
    return Post(**values)  # type: ignore[arg-type]


def test_schema_is_versioned(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        assert store.schema_version == SCHEMA_VERSION
    with Store(tmp_path / "db.sqlite3") as store:  # reopening migrates nothing
        assert store.schema_version == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this digest"):
        Store(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable digest database"):
        Store(path)


def test_posts_are_stored_idempotently(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        assert store.add_posts([make_post(1), make_post(2)]) == 2
        edited = make_post(1, title="title 1 (fixed)", published=NOW, first_seen=NOW)
        assert store.add_posts([edited, make_post(2)]) == 0
        assert store.count_posts() == 2
        posts = store.posts_between(NOW - timedelta(days=1), NOW + timedelta(days=1))
        first = next(p for p in posts if p.post_id == "g1")
        assert first.title == "title 1 (fixed)"
        assert first.published == NOW - timedelta(hours=1)  # the first time stands


def test_feed_state_tracks_validators_and_consecutive_failures(tmp_path: Path) -> None:
    url = "https://a.example/feed"
    with Store(tmp_path / "db.sqlite3") as store:
        store.record_feed_ok(url, NOW, title="A", etag='"v1"', last_modified="Fri, 20 Nov 2026")
        assert store.record_feed_error(url, "HTTP 500", NOW) == 1
        assert store.record_feed_error(url, "HTTP 500", NOW) == 2
        state = store.feed_state(url)
        assert (state.etag, state.failures, state.last_error) == ('"v1"', 2, "HTTP 500")
        store.record_feed_ok(url, NOW)  # a 304: validators kept
        state = store.feed_state(url)
        assert (state.etag, state.failures, state.last_error, state.title) == ('"v1"', 0, None, "A")


def test_subscribers_and_ledger(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        a, added = store.add_subscriber("a@example.com", "A", NOW)
        assert added
        _, again = store.add_subscriber("A@EXAMPLE.COM", "", NOW)  # same address, any case
        assert not again
        b, _ = store.add_subscriber("b@example.com", "", NOW)
        assert [s.email for s in store.pending_subscribers("2026-W47")] == [
            "a@example.com",
            "b@example.com",
        ]
        store.record_delivery("2026-W47", a.id, "sent", NOW, message_id="<m@x>")
        assert [s.id for s in store.pending_subscribers("2026-W47")] == [b.id]
        with pytest.raises(sqlite3.IntegrityError):  # one row per (issue, subscriber)
            store.record_delivery("2026-W47", a.id, "sent", NOW)
        assert store.set_subscriber_status("b@example.com", "unsubscribed", NOW)
        assert store.pending_subscribers("2026-W47") == []
        assert not store.set_subscriber_status("nobody@example.com", "unsubscribed", NOW)
        _, back = store.add_subscriber("b@example.com", "", NOW)
        assert back and store.subscriber(b.id).status == "active"  # type: ignore[union-attr]


def test_issue_numbers_are_assigned_once(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        assert store.issue_number("2026-W46", NOW) == 1
        assert store.issue_number("2026-W47", NOW) == 2
        assert store.issue_number("2026-W46", NOW) == 1
        assert store.issue_sent_at("2026-W46") is None
        store.mark_issue_sent("2026-W46", NOW)
        store.mark_issue_sent("2026-W46", NOW + timedelta(days=1))
        assert store.issue_sent_at("2026-W46") == NOW
