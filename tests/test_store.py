"""The Store on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.errors import StoreError
from digest.models import Post
from digest.state.store import SCHEMA_VERSION, Added, FeedOk, Store

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
        # A feed's batch mixes old and new entries: only the new count.
        assert store.add_posts([make_post(3), make_post(2), make_post(4)]) == 2
        assert store.add_posts([]) == 0
        assert store.count_posts() == 4


def test_fetched_feeds_are_stored_together_all_or_nothing(tmp_path: Path) -> None:
    a, b, c = (f"https://{n}.example/feed" for n in "abc")
    with Store(tmp_path / "db.sqlite3") as store:
        posts = [make_post(1, feed_url=a), make_post(2, feed_url=a)]
        batch = [FeedOk(a, NOW, posts, title="A", etag='"1"'), FeedOk(b, NOW, title="B")]
        assert store.record_fetched(batch) == [2, 0]
        assert store.count_posts() == 2
        assert store.feed_state(a).etag == '"1"' and store.feed_state(a).title == "A"
        assert store.feed_state(b).last_ok == NOW and store.feed_state(b).failures == 0
        # As `add_posts` and `record_feed_ok`: nothing new twice, validators kept
        # unless given.
        assert store.record_fetched([FeedOk(a, NOW, posts)]) == [0]
        assert store.feed_state(a).etag == '"1"'
        assert store.record_fetched([]) == []
        # One feed that cannot be written: none of the batch is, validators included.
        naive = make_post(3, feed_url=c, published=datetime(2026, 11, 20))
        with pytest.raises(ValueError, match="naive"):
            store.record_fetched(
                [FeedOk(c, NOW, [make_post(4, feed_url=c)], etag='"c"'), FeedOk(b, NOW, [naive])]
            )
        assert store.feed_state(c).etag is None and store.count_posts() == 2


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


def test_subscribers(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        _, added = store.add_subscriber("a@example.com", "A", NOW)
        assert added is Added.ADDED
        _, again = store.add_subscriber("A@EXAMPLE.COM", "", NOW)  # same address, any case
        assert again is Added.UNCHANGED
        b, _ = store.add_subscriber("b@example.com", "", NOW)
        assert store.due_emails(WEEK, NOW, 10) == ["a@example.com", "b@example.com"]
        assert store.set_subscriber_status("b@example.com", "unsubscribed", NOW)
        assert store.due_emails(WEEK, NOW, 10) == ["a@example.com"]
        assert not store.set_subscriber_status("nobody@example.com", "unsubscribed", NOW)
        # Suppressed: the operator's add leaves it so; only --resubscribe brings it back.
        _, kept = store.add_subscriber("b@example.com", "", NOW)
        assert kept is Added.SUPPRESSED and store.subscriber(b.id).status == "unsubscribed"  # type: ignore[union-attr]
        _, back = store.add_subscriber("b@example.com", "", NOW, resubscribe=True)
        assert back is Added.RESUBSCRIBED and store.subscriber(b.id).status == "active"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ["unsubscribed", "bouncing", "complained"])
def test_every_suppressed_status_survives_add_and_import(tmp_path: Path, status: str) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        s, _ = store.add_subscriber("x@example.com", "", NOW)
        store.set_subscriber_status(s.id, status, NOW)
        for origin in ("operator", "import"):
            _, outcome = store.add_subscriber("x@example.com", "X", NOW, origin=origin)
            assert outcome is Added.SUPPRESSED
        assert store.subscriber(s.id).status == status  # type: ignore[union-attr]


def test_forget_deletes_every_row_and_keeps_the_address_out(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with Store(path) as store:
        s, _ = store.add_subscriber("gone@example.com", "Gone Person", NOW)
        store.add_subscriber("stay@example.com", "", NOW)
        store.open_ledger(WEEK, NOW)
        assert store.forget_subscriber("gone@example.com", NOW)
        assert store.subscriber(s.id) is None
        assert [r.email for r in store.delivery_rows(WEEK)] == ["stay@example.com"]
        # An old list imported again does not bring the address back.
        _, outcome = store.add_subscriber("GONE@example.com", "", NOW, origin="import")
        assert outcome is Added.SUPPRESSED and store.subscriber_by_email("gone@example.com") is None
        # No trace of the address or the name is left in the files (deleted pages are
        # zeroed, and the write-ahead log is checkpointed and emptied).
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("db"))
        assert b"gone@example.com" not in raw.lower() and b"Gone Person" not in raw
        # Its owner's explicit consent brings it back.
        _, outcome = store.add_subscriber("gone@example.com", "", NOW, resubscribe=True)
        assert outcome is Added.RESUBSCRIBED


def test_web_signup_is_pending_until_confirmed_and_a_nonce_works_once(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        signup = store.request_signup("new@example.com", "ja", ["KR", "jp"], "n1", NOW)
        assert signup.action == "confirm" and signup.subscriber.status == "pending"
        assert signup.subscriber.countries == ("JP", "KR")
        store.open_ledger(WEEK, NOW)
        assert store.due_emails(WEEK, NOW, 10) == []  # pending gets nothing
        assert not store.confirm_signup(signup.subscriber.id, "wrong", NOW)
        assert store.confirm_signup(signup.subscriber.id, "n1", NOW)
        assert not store.confirm_signup(signup.subscriber.id, "n1", NOW)  # replayed
        confirmed = store.subscriber(signup.subscriber.id)
        assert confirmed is not None and confirmed.status == "active" and confirmed.confirmed
        # Signing up an active address changes nothing (its owner gets a reminder).
        again = store.request_signup("new@example.com", "en", [], "n2", NOW)
        assert again.action == "already" and again.subscriber.countries == ("JP", "KR")
        assert store.country_choices() == {("JP", "KR"): 1}


def test_a_signup_form_never_resubscribes_without_confirmation(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        s, _ = store.add_subscriber("left@example.com", "", NOW)
        assert store.unsubscribe(s.id, NOW) and not store.unsubscribe(s.id, NOW)
        signup = store.request_signup("left@example.com", "en", ["KR"], "n1", NOW)
        assert signup.action == "confirm" and signup.subscriber.status == "unsubscribed"
        assert store.confirm_signup(s.id, "n1", NOW, countries=["KR"])
        assert store.subscriber(s.id).status == "active"  # type: ignore[union-attr]


def test_bounces_and_complaints_after_the_session(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        store.add_subscriber("b@example.com", "", NOW)
        store.add_subscriber("c@example.com", "", NOW)
        assert (
            store.record_bounce("b@example.com", NOW, permanent=False, bounce_after=2) == "active"
        )
        assert store.record_bounce("b@example.com", NOW, permanent=True, bounce_after=2) == "active"
        assert (
            store.record_bounce("b@example.com", NOW, permanent=True, bounce_after=2) == "bouncing"
        )
        assert (
            store.record_bounce("nobody@example.com", NOW, permanent=True, bounce_after=2) is None
        )
        assert store.record_complaint("c@example.com", NOW)
        assert store.subscriber_by_email("c@example.com").status == "complained"  # type: ignore[union-attr]
        assert store.mark_inbox_seen("<m1@x>", "bounce", NOW)
        assert not store.mark_inbox_seen("<m1@x>", "bounce", NOW)
        assert store.inbox_seen("<m1@x>")


WEEK = "2026-W47"


def _ledger(store: Store) -> dict[str, str]:
    return {r.email: r.status for r in store.delivery_rows(WEEK)}


def test_ledger_rows_move_from_pending_to_an_outcome(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        ids = [store.add_subscriber(f"{n}@example.com", "", NOW)[0].id for n in "abcde"]
        assert store.open_ledger(WEEK, NOW).added == 5
        assert store.open_ledger(WEEK, NOW).added == 0  # one row per (issue, subscriber)
        assert store.due_deliveries(WEEK, NOW, 0, 3) == ids[:3]  # paged, in id order
        assert store.due_deliveries(WEEK, NOW, ids[2], 3) == ids[3:]
        claims = [store.claim_delivery(WEEK, i, NOW) for i in ids]
        assert [c[1] for c in claims if c] == [1, 1, 1, 1, 1]
        assert store.claim_delivery(WEEK, ids[0], NOW) is None  # already in flight
        store.delivery_sent(WEEK, ids[0], NOW, "<m0@x>")
        retry_at = NOW + timedelta(minutes=5)
        store.delivery_deferred(WEEK, ids[1], NOW, retry_at, "451 try later")
        assert not store.delivery_failed(WEEK, ids[2], NOW, "550 no such user", bounce_after=2)
        store.delivery_handed(WEEK, ids[3])
        assert store.delivery_unknown(WEEK, ids[3], NOW, "no reply")  # sent once more
        store.release_delivery(WEEK, ids[4], "connection lost before DATA")
        assert _ledger(store) == {
            "a@example.com": "sent",
            "b@example.com": "deferred",
            "c@example.com": "failed",
            "d@example.com": "pending",
            "e@example.com": "pending",
        }
        assert store.due_deliveries(WEEK, NOW, 0, 10) == [ids[3], ids[4]]
        assert store.due_deliveries(WEEK, retry_at, 0, 10) == [ids[1], ids[3], ids[4]]
        assert store.next_retry(WEEK) == retry_at
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
        assert rows["e@example.com"].attempts == 0  # never handed over: not an attempt
        assert rows["d@example.com"].unknowns == 1
        # The resend also gets no reply: it stays unknown, never sent a third time.
        assert store.claim_delivery(WEEK, ids[3], NOW)
        store.delivery_handed(WEEK, ids[3])
        assert not store.delivery_unknown(WEEK, ids[3], NOW, "no reply again")
        assert _ledger(store)["d@example.com"] == "unknown"
        assert store.ledger_open(WEEK)  # b deferred, e pending
        counts = store.ledger_counts(WEEK)
        assert (counts["sent"], counts["unknown"], counts["resent"]) == (1, 1, 0)


def test_in_flight_rows_of_a_killed_run_are_sent_at_most_once_more(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        a = store.add_subscriber("a@example.com", "", NOW)[0].id
        store.open_ledger(WEEK, NOW)
        assert store.claim_delivery(WEEK, a, NOW)  # killed before the final "."
    with Store(tmp_path / "db.sqlite3") as store:
        opened = store.open_ledger(WEEK, NOW)
        assert (opened.interrupted, opened.in_flight) == (1, 0)  # no server took it
        row = store.delivery_rows(WEEK)[0]
        assert (row.status, row.attempts, row.unknowns) == ("pending", 0, 0)
        assert store.claim_delivery(WEEK, a, NOW)
        store.delivery_handed(WEEK, a)  # killed after the final ".", before the reply
    with Store(tmp_path / "db.sqlite3") as store:
        opened = store.open_ledger(WEEK, NOW)
        assert (opened.in_flight, opened.unknown) == (1, [])
        assert _ledger(store) == {"a@example.com": "pending"}  # sent once more
        assert store.claim_delivery(WEEK, a, NOW)
        store.delivery_handed(WEEK, a)  # ... and killed in the same place again
    with Store(tmp_path / "db.sqlite3") as store:
        opened = store.open_ledger(WEEK, NOW)
        assert (opened.in_flight, opened.unknown) == (1, ["a@example.com"])
        assert _ledger(store) == {"a@example.com": "unknown"}  # never a third copy
        assert store.due_deliveries(WEEK, NOW, 0, 10) == []
        assert not store.ledger_open(WEEK)


def test_permanent_failures_mark_a_subscriber_bouncing_after_the_configured_count(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        a = store.add_subscriber("a@example.com", "", NOW)[0].id
        for n, week in enumerate(["2026-W45", "2026-W46", "2026-W47"]):
            store.open_ledger(week, NOW)
            assert store.claim_delivery(week, a, NOW)
            if n == 0:
                store.delivery_failed(week, a, NOW, "550 5.1.1", bounce_after=2)
            elif n == 1:  # a success in between resets the count
                store.delivery_sent(week, a, NOW, "<m@x>")
            else:
                assert not store.delivery_failed(week, a, NOW, "550 5.1.1", bounce_after=2)
        # Temporary refusals that ran out of attempts never count as bounces.
        store.open_ledger("2026-W48", NOW)
        assert store.claim_delivery("2026-W48", a, NOW)
        assert not store.delivery_failed("2026-W48", a, NOW, "gave up", bounce_after=None)
        assert store.subscriber(a).status == "active"  # type: ignore[union-attr]
        store.open_ledger("2026-W49", NOW)
        assert store.claim_delivery("2026-W49", a, NOW)
        assert store.delivery_failed("2026-W49", a, NOW, "550 5.1.1", bounce_after=2)
        assert store.subscriber(a).status == "bouncing"  # type: ignore[union-attr]


def test_an_unsubscribed_subscriber_is_not_claimed(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        a = store.add_subscriber("a@example.com", "", NOW)[0].id
        store.open_ledger(WEEK, NOW)
        store.set_subscriber_status(a, "unsubscribed", NOW)
        assert store.claim_delivery(WEEK, a, NOW) is None
        assert store.delivery_rows(WEEK) == []  # no longer a recipient of this issue


SCHEMA_DUMPS = sorted((Path(__file__).parent / "data" / "schema").glob("v*.sql"))


def _tables(db: sqlite3.Connection) -> list[tuple[str, str, list[tuple[object, ...]]]]:
    """Each table and index with its columns (name, type, not null, default, pk)."""
    out = []
    for kind, name in db.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ):
        columns = (
            [tuple(r)[1:] for r in db.execute(f"PRAGMA table_info({name})")]
            if kind == "table"
            else [tuple(r) for r in db.execute(f"PRAGMA index_info({name})")]
        )
        out.append((kind, name, columns))
    return out


def test_every_earlier_schema_version_has_a_dump() -> None:
    versions = {int(p.stem[1:]) for p in SCHEMA_DUMPS}
    assert versions == set(range(1, SCHEMA_VERSION)), "add tests/data/schema/v<N>.sql"


@pytest.mark.parametrize("dump", SCHEMA_DUMPS, ids=lambda p: p.stem)
def test_a_database_of_every_earlier_version_is_upgraded(tmp_path: Path, dump: Path) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.executescript(dump.read_text(encoding="utf-8"))
    with Store(old) as store:
        assert store.schema_version == SCHEMA_VERSION
        # The data survives: feeds, posts, subscribers, issues and the ledger.
        assert store.feed_state("http://127.0.0.1/feeds/a.xml").etag == '"e1"'
        assert store.count_posts() == 3
        assert [s.email for s in store.subscribers("active")] == [
            "alice@example.com",
            "bob@example.org",
        ]
        assert store.issue_number("2026-W46", NOW) == 1
        assert store.issue_sent_at("2026-W46") is not None
        assert store.deliveries("2026-W46") == {1: "sent", 2: "failed"}
        assert not store.ledger_open("2026-W46")
        # And it works like a new one: the next issue is numbered and sent.
        assert store.issue_number("2026-W47", NOW) == 2
        store.open_ledger("2026-W48", NOW)
        assert store.due_emails("2026-W48", NOW, 10) == ["alice@example.com", "bob@example.org"]
    with sqlite3.connect(old) as db, sqlite3.connect(tmp_path / "new.sqlite3") as new:
        Store(tmp_path / "new.sqlite3").close()
        assert _tables(db) == _tables(new)  # migrated == created new


def test_a_failed_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.state import schema

    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.executescript(SCHEMA_DUMPS[0].read_text(encoding="utf-8"))
    broken = dict(schema.MIGRATIONS)
    broken[1] = schema.MIGRATIONS[1] + ";\nTHIS IS NOT SQL"
    monkeypatch.setattr("digest.state.store.MIGRATIONS", broken)
    with pytest.raises(StoreError):
        Store(old)
    with sqlite3.connect(old) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 2


def test_issue_numbers_are_assigned_once(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        assert store.issue_number("2026-W46", NOW) == 1
        assert store.issue_number("2026-W47", NOW) == 2
        assert store.issue_number("2026-W46", NOW) == 1
        assert store.issue_sent_at("2026-W46") is None
        store.mark_issue_sent("2026-W46", NOW)
        store.mark_issue_sent("2026-W46", NOW + timedelta(days=1))
        assert store.issue_sent_at("2026-W46") == NOW


def test_stored_times_are_the_text_strftime_gave() -> None:
    """`to_db_time` writes what `strftime("%Y-%m-%dT%H:%M:%S+00:00")` of the UTC
    time wrote before it took a quicker way: microseconds, zones, early years."""
    import random
    from datetime import timezone

    from digest.state.schema import to_db_time

    rng = random.Random(15)
    zones = [UTC, timezone(timedelta(0)), timezone(timedelta(hours=9))]
    zones += [timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(seconds=37))]
    for _ in range(20_000):
        when = datetime(
            rng.choice([1, 999, 1000, 1970, 2026, 9998]),
            rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
            rng.randint(0, 59), rng.choice([0, 1, 500_000, 999_999, rng.randint(0, 999_999)]),
            tzinfo=rng.choice(zones),
        )  # fmt: skip
        try:
            want = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        except OverflowError:
            continue  # year 1 less 9 hours: no UTC time to store
        assert to_db_time(when) == want, when
