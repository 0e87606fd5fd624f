"""The verbs for what the database keeps: subscribers, deliveries and feeds.

Owns: `digest subscribers` (add, remove, list, import, export, forget; reading the CSV
from a file or standard input), `digest deliveries` (list, retry or settle the
readers whose copy is unknown or failed, under the publishing lock) and
`digest feeds` (each feed's standing; reviving a gone feed; `list`, and
`add`, `remove`, `import` and `export` of the configured feeds: the config file
is edited by `digest.cli.feedfile`, OPML read and written by `digest.cli.opml`),
with the lines each prints and the exit code each returns.

Never touches: the network, the issue or mail: these verbs read and edit rows
through `digest.state.store` and print them; sending is `commands`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import digest.cli.clock as clock
from digest.config import FeedSettings, Settings
from digest.errors import DigestError, InputFileError
from digest.state.store import Added, Store
from digest.state.subscribers import clean_name, normalize_address, read_csv, write_csv

if TYPE_CHECKING:  # tomlkit is imported only by the verbs that edit the file
    from digest.cli.feedfile import FeedFile


# The `digest feeds` actions that edit the config file and need no database.
FEED_EDITS = ("add", "remove", "import")


def feeds(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from digest.fetch.status import feed_statuses, status_lines

    action = getattr(args, "action", None)  # None: `digest feeds`, the standing alone
    if action == "export":
        return _export_feeds(args, settings, store)
    as_json = getattr(args, "json", False)
    configured = {f.url for f in settings.feeds}
    for url in args.revive:
        if url not in configured:
            raise DigestError(f"{url} is not a configured feed", hint="run `digest feeds`")
        if not store.revive_feed(url):
            raise DigestError(f"{url} is not gone", hint="only a gone feed can be revived")
        said = f"revived: {url} (polled again from the next gather)"
        print(said, file=sys.stderr if as_json else sys.stdout)  # --json: stdout is JSON only
    states = store.feed_states(f.url for f in settings.feeds)
    statuses = feed_statuses(settings.feeds, states, clock.utc_now())
    if as_json:
        from digest.cli.shapes import feed_json, print_json

        for feed, status in zip(settings.feeds, statuses, strict=True):
            print_json(feed_json(feed, status))
        return 0
    lines = status_lines(statuses)
    if action == "list":  # the configured keys too, between the URL and the standing
        lines[:-1] = [
            f"{s.status:<8}{f.url}" + (f"  [{keys}]" if (keys := _feed_keys(f)) else "")
            + f": {s.detail}"
            for f, s in zip(settings.feeds, statuses, strict=True)
        ]  # fmt: skip
    for line in lines:
        print(line)
    return 0


def _feed_keys(feed: FeedSettings) -> str:
    parts = [
        f'"{feed.name}"' if feed.name else "",
        feed.country,
        feed.language,
        f"filter={feed.filter}" if feed.filter else "",
        "local" if feed.local else "",
    ]
    return " ".join(p for p in parts if p)


def edit_feeds(args: argparse.Namespace, settings: Settings) -> int:
    """`digest feeds add|remove|import`: edit the config file that was loaded."""
    from digest.cli.feedfile import FeedFile, NewFeed

    file = FeedFile(settings.source)
    if args.action == "add":
        feed = NewFeed(
            url=args.url.strip(),
            name=args.name,
            country=args.country,
            language=args.language,
            local=args.local,
            filter=args.filter,
            site=args.site,
        )
        file.add(feed)
        file.save()  # checked as digest loads it first: a bad value writes nothing
        print(f"added: {feed.url} (feeds[{len(file.urls()) - 1}] in {settings.source})")
        return 0
    if args.action == "remove":
        url = args.url.strip()
        if not file.remove(url):
            raise DigestError(
                f"{url} is not a configured feed ({settings.source})",
                hint="`digest feeds list` shows them; give the URL exactly as listed",
            )
        file.save()
        print(f"removed: {url} (from {settings.source})")
        return 0
    if args.action == "import":
        return _import_feeds(args, settings, file)
    raise AssertionError(f"unhandled action {args.action}")


def _import_feeds(args: argparse.Namespace, settings: Settings, file: FeedFile) -> int:
    from digest.cli.feedfile import NewFeed, check_feed
    from digest.cli.opml import Skipped, read_opml
    from digest.errors import ConfigError

    if args.file == "-":
        data, name = sys.stdin.buffer.read(), "standard input"
    else:
        try:
            data, name = Path(args.file).read_bytes(), args.file
        except OSError as e:
            raise InputFileError(
                f"{args.file}: cannot read: {e.strerror}", hint=_path_hint(args.file)
            ) from e
    entries, bad = read_opml(data, settings.digest.countries, name=name)
    known = set(file.urls())
    added = already = 0
    for entry in entries:
        if entry.url in known:
            already += 1
            print(f"  already configured: {entry.url}", file=sys.stderr)
            continue
        feed = NewFeed(
            url=entry.url,
            name=entry.name,
            country=entry.country,
            language=entry.language,
            local=entry.local,
            filter=entry.filter,
            site=entry.site,
        )
        try:
            check_feed(feed, settings.source)  # as the loader would read it, alone
        except ConfigError as e:  # "feeds[0].country: …" → "country: …"
            key = (e.key or "").rsplit(".", 1)[-1]
            why = e.message.removeprefix(f"{e.file}: {e.key}: ")
            bad.append(Skipped(entry.url, f"{key}: {why}"))
            continue
        file.add(feed)
        known.add(entry.url)
        added += 1
    if added:
        file.save()
    for item in bad:
        print(f"  skipped {item.what}: {item.why}", file=sys.stderr)
    print(
        f"imported from {name}: {added} added, {already} already configured, "
        f"{len(bad)} skipped ({settings.source})"
    )
    return 1 if bad else 0


def _export_feeds(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from digest.cli.opml import write_opml

    titles = {f.url: store.feed_state(f.url).title for f in settings.feeds}
    data = write_opml(
        settings.feeds,
        titles,
        title=f"{settings.digest.title}: feeds",
        now=clock.utc_now(),
    )
    if args.file == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        from digest.state.files import write_atomic

        write_atomic(Path(args.file), data)
        print(f"exported {len(settings.feeds)} feeds to {args.file}", file=sys.stderr)
    return 0


def deliveries(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from digest.mail.report import unsettled_lines
    from digest.state.lock import publishing_lock

    if args.action == "list":
        if args.all:
            rows = store.delivery_rows(args.week)
            for row in rows:
                print(f"{row.week}\t{row.status}\t{row.email}\t{row.detail}")
            print(f"{len(rows)} row(s)", file=sys.stderr)
            return 0
        rows = store.unsettled_deliveries(args.week)
        if not rows:
            print(f"{args.week or 'every week'}: no reader with an unknown or failed copy")
        for line in unsettled_lines(args.week, rows):
            print(line)
        return 0
    addresses = [normalize_address(a) for a in args.addresses] or None
    # Under the publishing lock: a send in progress owns the ledger.
    with publishing_lock(settings.storage_path):
        if args.action == "retry":
            retried, inactive = store.retry_deliveries(args.week, addresses, clock.utc_now())
            print(
                f"{args.week}: {len(retried)} message(s) back to pending; the next "
                f"`digest send --week {args.week}` or `digest run` sends them"
            )
            for address in inactive:
                print(f"  not retried {address}: not an active subscriber", file=sys.stderr)
            done = retried + inactive
        elif args.action == "settle":
            # One line of printable text: it is shown in every listing after this.
            reason = " ".join("".join(c if c.isprintable() else " " for c in args.reason).split())
            if not reason:
                print("digest: error: --reason must say why", file=sys.stderr)
                return 2
            done = store.settle_deliveries(args.week, addresses, reason, clock.utc_now())
            print(f"{args.week}: {len(done)} message(s) settled: {reason}")
        else:
            raise AssertionError(f"unhandled action {args.action}")
    found = {a.lower() for a in done}
    missing = [a for a in addresses or [] if a.lower() not in found]
    for address in missing:
        print(
            f"digest: error: {address} has no unknown or failed message in {args.week}",
            file=sys.stderr,
        )
    return 1 if missing else 0


def subscribers(args: argparse.Namespace, store: Store) -> int:
    now = clock.utc_now()
    if args.action == "add":
        subscriber, outcome = store.add_subscriber(
            normalize_address(args.email),
            clean_name(args.name),
            now,
            resubscribe=args.resubscribe,
        )
        if outcome is Added.SUPPRESSED:
            print(
                f"digest: error: {subscriber.email} is suppressed ({subscriber.status}); "
                "add --resubscribe only if its owner asked to be back",
                file=sys.stderr,
            )
            return 1
        print(f"{_ADD_LINES[outcome]}: {subscriber.email}")
        return 0
    if args.action == "remove":
        address = normalize_address(args.email)
        if not store.set_subscriber_status(address, "unsubscribed", now):
            print(f"digest: error: {address} is not a subscriber", file=sys.stderr)
            return 1
        print(f"unsubscribed: {address}")
        return 0
    if args.action == "list":
        if args.json:
            from digest.cli.shapes import print_json, subscriber_json

            for s in store.subscribers(None if args.all else "active"):
                print_json(subscriber_json(s))
            return 0
        for s in store.subscribers(None if args.all else "active"):
            name = f"\t{s.name}" if s.name else ""
            status = f"\t[{s.status}]" if args.all else ""
            print(f"{s.email}{name}{status}")
        return 0
    if args.action == "import":
        text = _read_stdin() if args.file == "-" else _read_text(Path(args.file))
        counts = dict.fromkeys(Added, 0)
        refused = []
        for row in read_csv(text):
            if row.error:
                refused.append(row)
                continue
            _, outcome = store.add_subscriber(
                row.email, row.name, now, resubscribe=args.resubscribe, origin="import"
            )
            counts[outcome] += 1
        added = counts[Added.ADDED] + counts[Added.ACTIVATED] + counts[Added.RESUBSCRIBED]
        line = (
            f"imported: {added} added, {counts[Added.UNCHANGED]} already subscribed, "
            f"{len(refused)} refused"
        )
        if counts[Added.RESUBSCRIBED]:
            line += f"; {counts[Added.RESUBSCRIBED]} of the added were resubscribed"
        if counts[Added.SUPPRESSED]:
            line += (
                f"; {counts[Added.SUPPRESSED]} left suppressed (unsubscribed, complained, "
                "bouncing or forgotten; --resubscribe only with consent)"
            )
        print(line)
        for row in refused:
            print(f"  line {row.line}: {row.error}", file=sys.stderr)
        return 1 if refused else 0
    if args.action == "forget":
        address = normalize_address(args.email)
        found = store.forget_subscriber(address, now)
        print(
            f"forgotten: {address}"
            + ("" if found else " (was not a subscriber; it can no longer be imported)")
        )
        return 0
    if args.action == "export":
        data = write_csv(store.subscribers())
        if args.file == "-":
            sys.stdout.write(data)
        else:
            from digest.state.files import write_atomic

            write_atomic(Path(args.file), data)
        return 0
    raise AssertionError(f"unhandled action {args.action}")


_ADD_LINES = {
    Added.ADDED: "added",
    Added.ACTIVATED: "added (was waiting for confirmation)",
    Added.RESUBSCRIBED: "resubscribed",
    Added.UNCHANGED: "already subscribed",
}


def _path_hint(given: str) -> str | None:
    """Where a relative path was looked for: cron and systemd start elsewhere."""
    if Path(given).is_absolute():
        return None
    return f"a relative path is read from the current folder, {Path.cwd()}"


def _read_text(path: Path) -> str:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:  # CSV: keep CR in quoted cells
            return f.read()
    except OSError as e:
        raise InputFileError(
            f"{path}: cannot read: {e.strerror}", hint=_path_hint(str(path))
        ) from e
    except UnicodeDecodeError as e:
        raise DigestError(f"{path}: not UTF-8 text", hint="save the CSV as UTF-8") from e


def _read_stdin() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8-sig")  # untranslated, like _read_text
    except UnicodeDecodeError as e:
        raise DigestError("standard input: not UTF-8 text", hint="save the CSV as UTF-8") from e
