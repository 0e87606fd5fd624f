"""The `digest` command line.

Owns: argument parsing, help texts, turning reports into printed lines and
exit codes, and printing a `DigestError` as a message plus hint instead of a
traceback. Doesn't own: any step of the pipeline (see `digest.run.pipeline`).

Exit codes: 0 ok; 1 a run failed (every feed failed, a delivery error, a
reader whose copy is unknown or failed and not settled, `send` with nobody to
send to), or `explain --story` matched no story; 2 bad config, bad arguments,
a refused address or a broken template; 73 a path digest must write is not
writable; 74 the disk is full (or the file-size limit reached); 75 busy:
another digest process holds the publishing lock, or another process held the
database longer than 30 s.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from digest import __version__, bundled
from digest.config import Settings, check_moved_paths, config_path, load_settings
from digest.credentials import Secrets, env_file_for, load_secrets
from digest.editorial.selection import latest_due_week, next_week, parse_week
from digest.errors import DigestError
from digest.logs import FORMATS
from digest.logs import configure as configure_logs
from digest.state.store import Store
from digest.state.subscribers import clean_name, normalize_address, read_csv, write_csv

log = logging.getLogger("digest")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _week_arg(value: str) -> str:
    try:
        parse_week(value)
    except DigestError as e:
        raise argparse.ArgumentTypeError(e.message) from e
    return value.strip()


def _country_arg(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise argparse.ArgumentTypeError(f"{value!r} is not a two-letter country code")
    return code


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="config file (default: $DIGEST_CONFIG, else digest.toml, else config/digest.toml, "
        "in the current folder); relative paths in it follow its folder",
    )
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        metavar="LEVEL",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default: warning)",
    )
    common.add_argument(
        "--log-format",
        default=argparse.SUPPRESS,
        choices=FORMATS,
        help="log lines as readable text (default) or as JSON lines",
    )

    parser = argparse.ArgumentParser(
        prog="digest",
        parents=[common],
        description="Weekly email digest of AI news from Asian hubs, grouped by country.",
        epilog="Run `digest COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser(
        "gather",
        parents=[common],
        help="poll every feed and store new posts",
        description="Fetch every configured feed (conditional GET) and store new "
        "posts. Exits 1 only when every feed failed.",
    )

    p = sub.add_parser(
        "build",
        parents=[common],
        help="write a week's issue to the archive",
        description="Select, render and archive one week's issue; prints the "
        "path of its web page. Sends nothing.",
    )
    p.add_argument(
        "--week",
        type=_week_arg,
        metavar="YYYY-Www",
        help="ISO week, e.g. 2026-W47 (default: the newest issue already due)",
    )

    p = sub.add_parser(
        "preview",
        parents=[common],
        help="render a week's issue to look at; sends and records nothing",
        description="Render a week's issue as its email into a temporary folder and print "
        "its file:// URL. Nothing is archived, numbered or sent.",
    )
    p.add_argument(
        "--week",
        type=_week_arg,
        metavar="YYYY-Www",
        help="ISO week (default: the issue being collected now, due next)",
    )
    p.add_argument("--open", action="store_true", help="open it in a web browser")

    p = sub.add_parser(
        "explain",
        parents=[common],
        help="why each story of a week's issue is in its section",
        description="Classify a week's stories again and show, for each, its section, the "
        "names found (as written, their key in the knowledge base, kind, country, where, "
        "points), the scores per country and the reason. A story in the wrong section "
        "lacks a name: add it to entities.tsv beside digest.toml or to [aliases], then "
        "check it with --title. Reads the database only.",
    )
    p.add_argument(
        "--week",
        type=_week_arg,
        metavar="YYYY-Www",
        help="ISO week (default: the newest issue already due, as for build)",
    )
    p.add_argument(
        "--story",
        metavar="TEXT",
        default="",
        help="only stories whose title contains TEXT (any case) or whose URL is TEXT",
    )
    p.add_argument(
        "--title",
        metavar="TEXT",
        help="explain this headline instead of a week's stories (no database needed)",
    )
    p.add_argument("--summary", metavar="TEXT", default="", help="with --title: its summary")
    p.add_argument("--hint", type=_country_arg, metavar="CC", help="with --title: a feed's country")
    p.add_argument("--local", action="store_true", help="with --title: a local feed of --hint")
    p.add_argument("--json", action="store_true", help="one JSON object per line, per story")

    p = sub.add_parser(
        "send",
        parents=[common],
        help="mail a week's issue to subscribers",
        description="Build a week's issue and mail it to every active subscriber "
        "who has not received it yet. Safe to rerun: nobody gets it twice.",
    )
    p.add_argument(
        "--week",
        type=_week_arg,
        metavar="YYYY-Www",
        help="ISO week (default: the newest issue already due)",
    )
    p.add_argument(
        "--to",
        metavar="ADDR",
        help="send one test copy to ADDR only; the delivery ledger is untouched",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list who would receive it; send nothing, record nothing",
    )

    sub.add_parser(
        "run",
        parents=[common],
        help="for cron: gather, then publish when due",
        description="Gather, then build and send this week's issue if it is due "
        "and not yet sent (or finish one whose send started). Safe to call every 15 "
        "minutes. Writes a run report under [schedule] reports_dir.",
    )

    sub.add_parser(
        "daemon",
        parents=[common],
        help="run unattended: gather on a schedule, publish weekly",
        description="Stay running: gather every [schedule] gather_every (with jitter), "
        "publish at [digest] publish in [digest] timezone, and decide once at start "
        "(a daemon that was down publishes within [schedule] lateness). SIGTERM or "
        "SIGINT finishes the message in flight and exits 0.",
    )

    p = sub.add_parser(
        "subscribers",
        parents=[common],
        help="manage the mailing list",
        description="Add, remove, list, import or export subscribers.",
    )
    ss = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = ss.add_parser(
        "add",
        parents=[common],
        help="add (or re-activate) a subscriber",
        description="Add one address; it is validated first.",
    )
    a.add_argument("email")
    a.add_argument("--name", default="", help="display name for the To: header")
    a = ss.add_parser(
        "remove",
        parents=[common],
        help="unsubscribe an address",
        description="Mark an address unsubscribed (its history is kept).",
    )
    a.add_argument("email")
    a = ss.add_parser(
        "list",
        parents=[common],
        help="print subscribers",
        description="Print active subscribers, one per line.",
    )
    a.add_argument("--all", action="store_true", help="include unsubscribed and bouncing")
    a = ss.add_parser(
        "import",
        parents=[common],
        help="add subscribers from a CSV file",
        description="Read `email[,name]` rows (a header row naming `email` is "
        "recognised). Refused rows are listed with their line and reason.",
    )
    a.add_argument("file", help="CSV file, or - for standard input")
    a = ss.add_parser(
        "export",
        parents=[common],
        help="write subscribers as CSV",
        description="Write every subscriber (email,name,status,created) as CSV.",
    )
    a.add_argument("file", nargs="?", default="-", help="output file (default: standard output)")

    p = sub.add_parser(
        "feeds",
        parents=[common],
        help="each feed's standing: ok, failing, gone, waiting, moved",
        description="List every configured feed with what the last runs learnt: ok, "
        "failing (how many times in a row, and why), gone (answered 410 Gone: no longer "
        "polled), waiting (the server asked us to wait, Retry-After) or new, and where it "
        "moved (301/308). Fetches nothing.",
    )
    p.add_argument(
        "--revive",
        metavar="URL",
        action="append",
        default=[],
        help="poll this gone feed again (as configured; repeatable)",
    )

    p = sub.add_parser(
        "deliveries",
        parents=[common],
        help="readers whose copy is unknown or failed: list, retry or settle them",
        description="The delivery ledger, for a person. A reader whose copy is `unknown` "
        "(handed over, no reply) or `failed` (refused, or out of attempts) may not have "
        "the issue: `send` and `run` name them and exit 1 until each is retried (sent "
        "again by the next send or run) or settled (closed with a reason).",
    )
    ds = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = ds.add_parser(
        "list",
        parents=[common],
        help="print readers whose copy is unknown or failed",
        description="Print one line per unknown or failed, unsettled message: week, "
        "status, address, reason. Exits 0 (it only reads).",
    )
    a.add_argument(
        "--week", type=_week_arg, metavar="YYYY-Www", help="only this ISO week (default: all)"
    )
    a.add_argument(
        "--all",
        action="store_true",
        help="every ledger row (sent, pending, deferred, settled, …), not only those "
        "that need a person",
    )
    a = ds.add_parser(
        "retry",
        parents=[common],
        help="send a week's issue again to unknown or failed readers",
        description="Put unknown or failed messages of a week back to pending (attempts "
        "reset; a subscriber no longer active is left as is) and reopen the issue, so "
        "the next `digest send --week W` or `digest run` sends them. A reader whose copy "
        "was unknown may get two copies.",
    )
    a.add_argument("--week", type=_week_arg, metavar="YYYY-Www", required=True, help="ISO week")
    a.add_argument("addresses", nargs="*", metavar="ADDR", help="only these (default: all)")
    a = ds.add_parser(
        "settle",
        parents=[common],
        help="close unknown or failed messages with a reason",
        description="Mark unknown or failed messages of a week `settled`, with REASON "
        "kept in the ledger (e.g. 'reader confirmed receipt', 'address gone'). They are "
        "no longer listed and no longer make send or run exit 1. Nothing is sent.",
    )
    a.add_argument("--week", type=_week_arg, metavar="YYYY-Www", required=True, help="ISO week")
    a.add_argument("addresses", nargs="*", metavar="ADDR", help="only these (default: all)")
    a.add_argument("--reason", required=True, metavar="TEXT", help="why they are settled")

    p = sub.add_parser(
        "init",
        parents=[common],
        help="write a folder ready to run digest for real",
        description="Write into DIR a commented digest.toml, a .env with a freshly "
        "generated DIGEST_SECRET (mode 600), systemd units (a timer-driven run every 15 "
        "minutes, or the daemon) and a crontab line, all pointing at DIR. Relative paths "
        "in digest.toml follow DIR, so they work from any working directory. Existing "
        "files are refused without --force; an existing .env is always kept.",
    )
    p.add_argument(
        "dir", nargs="?", type=Path, default=Path("."), help="the folder (default: here)"
    )
    p.add_argument("--force", action="store_true", help="rewrite existing files (not .env)")

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="run the whole pipeline offline",
        description="Serve the bundled sample feeds on 127.0.0.1, gather them, "
        "build the issue, mail it to an in-process SMTP server, and print "
        "where the archive and the received messages are.",
    )
    p.add_argument(
        "--dir",
        type=Path,
        default=Path("var/demo"),
        help="working folder for the demo (default: var/demo; emptied first)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logs(getattr(args, "log_level", "warning"), getattr(args, "log_format", "text"))
    try:
        return _dispatch(args)
    except DigestError as e:
        print(f"digest: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        # A file-system fault no layer turned into a DigestError: still one line.
        from digest.state.files import write_error

        error = write_error(e.filename or "(no path)", e, "failed")
        print(f"digest: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("digest: interrupted", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(config_path(getattr(args, "config", None)))
    check_moved_paths(settings, Path.cwd())
    return settings


def _secrets(settings: Settings) -> Secrets:
    return load_secrets(env_file_for(settings.source))


def _dispatch(args: argparse.Namespace) -> int:
    bundled.check()
    if args.command == "init":
        return _init(args)
    if args.command == "demo":
        from digest.loopback.demo import run_demo

        return run_demo(args.dir)
    settings = _settings(args)  # validates the whole file before any network I/O
    if args.command == "explain":
        return _explain(args, settings)
    with Store(settings.storage_path) as store:
        if args.command == "subscribers":
            return _subscribers(args, store)
        if args.command == "deliveries":
            return _deliveries(args, settings, store)
        if args.command == "feeds":
            return _feeds(args, settings, store)
        if args.command == "gather":
            from digest.fetch.gather import gather

            report = gather(settings, store, utc_now())
            for line in report.summary_lines():
                print(line)
            return 1 if report.all_failed else 0
        if args.command == "build":
            from digest.run.pipeline import build

            week = args.week or latest_due_week(utc_now(), settings)
            built = build(settings, store, week, utc_now())
            print(built.path)  # stdout: the path alone, for scripts
            size = len(built.rendered.html_email.encode("utf-8"))
            print(
                f"{week}: {built.issue.story_count} stories, "
                f"{built.issue.duplicates_merged} duplicates merged, email HTML "
                f"{size / 1024:.1f} KB (Gmail clips past 102 KB), built in {built.seconds:.2f} s",
                file=sys.stderr,
            )
            return 0
        if args.command == "send":
            return _send(args, settings, store)
        if args.command == "preview":
            return _preview(args, settings, store)
        if args.command == "run":
            return _run(settings, store)
        if args.command == "daemon":
            from digest.run.daemon import run_daemon

            return run_daemon(settings, _secrets(settings))
    raise AssertionError(f"unhandled command {args.command}")


def _explain(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from digest.run.explain import explain_text, explain_week, format_explanations

    if args.title is None:
        given = [o for o, v in (("--summary", args.summary), ("--hint", args.hint),
                                ("--local", args.local)) if v]  # fmt: skip
        if given:
            print(f"digest: error: {given[0]} goes with --title", file=sys.stderr)
            return 2
        week = args.week or latest_due_week(utc_now(), settings)
        with Store(settings.storage_path) as store:
            found = explain_week(settings, store, week, utc_now(), story=args.story)
            if not found:
                what = f"no story matches {args.story!r}" if args.story else "no stories"
                print(f"{week}: {what} ({store.count_posts()} posts stored)", file=sys.stderr)
                return 1 if args.story else 0
    elif args.local and not args.hint:
        print("digest: error: --local needs --hint: local news of which country?", file=sys.stderr)
        return 2
    elif args.week or args.story:
        print("digest: error: --title explains one headline: no --week or --story", file=sys.stderr)
        return 2
    else:
        found = [explain_text(settings, args.title, args.summary, args.hint or "", args.local)]
    if args.json:
        for item in found:
            print(json.dumps(item.as_json(), ensure_ascii=False))
    else:
        print(format_explanations(found))
    return 0


def _feeds(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from digest.fetch.status import feed_statuses, status_lines

    configured = {f.url for f in settings.feeds}
    for url in args.revive:
        if url not in configured:
            raise DigestError(f"{url} is not a configured feed", hint="run `digest feeds`")
        if not store.revive_feed(url):
            raise DigestError(f"{url} is not gone", hint="only a gone feed can be revived")
        print(f"revived: {url} (polled again from the next gather)")
    states = store.feed_states(f.url for f in settings.feeds)
    for line in status_lines(feed_statuses(settings.feeds, states, utc_now())):
        print(line)
    return 0


def _init(args: argparse.Namespace) -> int:
    from digest.deploy import init_folder, next_steps

    written = init_folder(args.dir, force=args.force)
    for item in written:
        print(f"{'kept ' if item.kept else 'wrote'} {item.path}  ({item.what})")
    for line in next_steps(args.dir):
        print(line)
    return 0


def _run(settings: Settings, store: Store) -> int:
    import threading

    from digest.mail.deliver import SendStopped
    from digest.mail.report import unsettled_lines
    from digest.run.console import send_progress, stop_on_signals
    from digest.run.pipeline import run_once

    try:
        with stop_on_signals(threading.Event()) as stop, send_progress() as progress:
            result = run_once(
                settings, _secrets(settings), store, utc_now, stop=stop, progress=progress
            )
    except SendStopped as e:
        for line in e.report.summary_lines():  # what went out before it stopped
            print(line)
        raise
    for line in result.gather.summary_lines():
        print(line)
    for decision in result.decisions:
        if decision.action.records_skip:
            print(f"{decision.week}: not published ({decision.action}): {decision.reason}")
    print(f"{result.week}: {result.action}")
    listed: set[str] = set()
    if result.delivery:
        for line in result.delivery.summary_lines():
            print(line)
        listed.add(result.delivery.week)
    # Readers of any week whose copy is unknown or failed, every run, until settled.
    for line in unsettled_lines(None, [r for r in result.unsettled if r.week not in listed]):
        print(line)
    if result.report_path:
        print(f"report: {result.report_path}")
    failed = bool(result.delivery and result.delivery.needs_a_person) or bool(result.unsettled)
    return 1 if failed or result.gather.all_failed else 0


def _preview(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    import tempfile
    import webbrowser

    from digest.run.pipeline import preview

    now = utc_now()
    # The issue an editor wants to look at is the one being collected: due next.
    week = args.week or next_week(latest_due_week(now, settings))
    folder = Path(tempfile.mkdtemp(prefix="digest-preview-"))
    page = preview(settings, store, week, now, folder)
    url = page.resolve().as_uri()
    print(url)
    if args.open:
        webbrowser.open(url)
    return 0


def _send(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    import threading

    from digest.run.console import send_progress, stop_on_signals
    from digest.run.pipeline import send, send_test

    secrets = _secrets(settings)
    week = args.week or latest_due_week(utc_now(), settings)
    if args.to:
        address = normalize_address(args.to)
        built, message_id = send_test(settings, secrets, store, week, address, utc_now)
        print(f"{week}: test copy sent to {address} ({message_id}); ledger untouched")
        return 0
    from digest.mail.deliver import SendStopped

    try:
        with stop_on_signals(threading.Event()) as stop, send_progress() as progress:
            built, report = send(
                settings,
                secrets,
                store,
                week,
                utc_now,
                dry_run=args.dry_run,
                stop=stop,
                progress=progress,
            )
    except SendStopped as e:
        for line in e.report.summary_lines():  # what went out before it stopped
            print(line)
        raise
    for line in report.summary_lines():
        print(line)
    print(f"archive: {built.path}")
    # Deferred messages are retried by the next run; a failed or possibly lost
    # one (unknown), of this run or an earlier one, needs a person until settled.
    # Nobody to send to is a send that did nothing: said, and exit 1.
    return 1 if report.needs_a_person or report.no_readers else 0


def _deliveries(args: argparse.Namespace, settings: Settings, store: Store) -> int:
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
            retried, inactive = store.retry_deliveries(args.week, addresses, utc_now())
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
            done = store.settle_deliveries(args.week, addresses, reason, utc_now())
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


def _subscribers(args: argparse.Namespace, store: Store) -> int:
    now = utc_now()
    if args.action == "add":
        subscriber, changed = store.add_subscriber(
            normalize_address(args.email), clean_name(args.name), now
        )
        print(f"{'added' if changed else 'already subscribed'}: {subscriber.email}")
        return 0
    if args.action == "remove":
        address = normalize_address(args.email)
        if not store.set_subscriber_status(address, "unsubscribed", now):
            print(f"digest: error: {address} is not a subscriber", file=sys.stderr)
            return 1
        print(f"unsubscribed: {address}")
        return 0
    if args.action == "list":
        for s in store.subscribers(None if args.all else "active"):
            name = f"\t{s.name}" if s.name else ""
            status = f"\t[{s.status}]" if args.all else ""
            print(f"{s.email}{name}{status}")
        return 0
    if args.action == "import":
        text = _read_stdin() if args.file == "-" else _read_text(Path(args.file))
        added = kept = 0
        refused = []
        for row in read_csv(text):
            if row.error:
                refused.append(row)
                continue
            _, changed = store.add_subscriber(row.email, row.name, now)
            added, kept = added + changed, kept + (not changed)
        print(f"imported: {added} added, {kept} already subscribed, {len(refused)} refused")
        for row in refused:
            print(f"  line {row.line}: {row.error}", file=sys.stderr)
        return 1 if refused else 0
    if args.action == "export":
        data = write_csv(store.subscribers())
        if args.file == "-":
            sys.stdout.write(data)
        else:
            from digest.state.files import write_atomic

            write_atomic(Path(args.file), data)
        return 0
    raise AssertionError(f"unhandled action {args.action}")


def _read_text(path: Path) -> str:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:  # CSV: keep CR in quoted cells
            return f.read()
    except OSError as e:
        raise DigestError(f"{path}: cannot read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise DigestError(f"{path}: not UTF-8 text", hint="save the CSV as UTF-8") from e


def _read_stdin() -> str:
    try:
        return sys.stdin.buffer.read().decode("utf-8-sig")  # untranslated, like _read_text
    except UnicodeDecodeError as e:
        raise DigestError("standard input: not UTF-8 text", hint="save the CSV as UTF-8") from e
