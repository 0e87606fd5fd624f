"""The pipeline's verbs: which command runs what, and what each prints.

Owns: `dispatch` (checking the bundled files, loading settings and secrets,
opening the store, and routing each command: the list verbs to `lists`, `edit`
to `edit`, `completion` to `completion` before any file is read), and the
verbs that run the pipeline: gather, build, preview, explain, send, run,
daemon, inbox, demo and init, each turning its report into printed lines and
an exit code.

Never touches: a step of the pipeline itself (`digest.run.pipeline` and the
stages do the work), argument parsing (`parser`) or turning an error into a
message (`digest.cli.main`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import digest.cli.clock as clock
from digest import bundled
from digest.cli.lists import FEED_EDITS, deliveries, edit_feeds, feeds, subscribers
from digest.config import Settings, check_moved_paths, config_path, load_settings
from digest.models import GLOBAL_SECTION
from digest.state.store import Store
from digest.state.subscribers import normalize_address

# The verbs' own modules (the editorial stage, python-dotenv, …) are imported in
# the verbs that use them, so that `subscribers list` loads only the settings and
# the store (tests/test_startup.py, benchmarks/startup.py).
if TYPE_CHECKING:
    from digest.credentials import Secrets


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(config_path(getattr(args, "config", None)))
    check_moved_paths(settings, Path.cwd())
    return settings


def _secrets(settings: Settings) -> Secrets:
    from digest.credentials import env_file_for, load_secrets

    return load_secrets(env_file_for(settings.source))


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "completion":
        from digest.cli.completion import script

        sys.stdout.write(script(args.shell))
        return 0
    bundled.check()
    if args.command == "init":
        return _init(args)
    if args.command == "demo":
        from digest.loopback.demo import run_demo

        return run_demo(args.dir, serve=args.serve, port=args.port)
    settings = _settings(args)  # validates the whole file before any network I/O
    if args.command == "explain":
        return _explain(args, settings)
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "feeds" and getattr(args, "action", None) in FEED_EDITS:
        return edit_feeds(args, settings)  # the config file only: no database needed
    with Store(settings.storage_path) as store:
        if args.command == "subscribers":
            return subscribers(args, store)
        if args.command == "deliveries":
            return deliveries(args, settings, store)
        if args.command == "feeds":
            return feeds(args, settings, store)
        if args.command == "gather":
            from digest.fetch.gather import gather

            report = gather(settings, store, clock.utc_now())
            if args.json:
                from digest.cli.shapes import gather_json, print_json

                print_json(gather_json(report))
            else:
                for line in report.summary_lines():
                    print(line)
            return 1 if report.all_failed else 0
        if args.command == "build":
            from digest.editorial.selection import latest_due_week
            from digest.run.pipeline import build

            week = args.week or latest_due_week(clock.utc_now(), settings)
            built = build(settings, store, week, clock.utc_now())
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
        if args.command == "edit":
            from digest.cli.edit import edit

            return edit(args, settings, store)
        if args.command == "run":
            return _run(args, settings, store)
        if args.command == "daemon":
            from digest.run.daemon import run_daemon

            _warn_placeholder_links(settings)  # now, not first on publishing day
            return run_daemon(settings, _secrets(settings))
        if args.command == "inbox":
            return _inbox(args, settings, store)
    raise AssertionError(f"unhandled command {args.command}")


def _inbox(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    from digest.run.inbox import open_source, read_inbox

    secrets = _secrets(settings)
    key = secrets.require_signing_key()  # checks the tokens that name readers
    source = open_source(args.source, settings, secrets, sys.stdin.buffer)
    report = read_inbox(source, settings, key, store, clock.utc_now())
    for line in report.lines():
        print(line)
    return 0  # a message digest could not use is reported, not a failed run


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from digest.run.links import placeholder_link
    from digest.web.server import serve

    # The pages mail confirmation and welcome links: on a placeholder domain
    # (example.com, .test, localhost, ...) they would lead readers nowhere.
    refused = placeholder_link(settings)
    if refused is not None:
        raise refused
    Store(settings.storage_path).close()  # a bad database is one line now, not per request
    secrets = _secrets(settings)
    secrets.require_signing_key()

    def ready(url: str) -> None:
        print(
            f"digest serve: {url} (pages: subscribe, confirm, preferences, unsubscribe"
            f"{'; the archive' if settings.web.archive else ''}); Ctrl-C stops",
            file=sys.stderr,
        )

    serve(settings, secrets, host=args.host, port=args.port, base_path=args.base_path, ready=ready)
    return 0


def _explain(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from digest.editorial.selection import latest_due_week
    from digest.run.explain import explain_text, explain_week, format_explanations

    if args.title is None:
        given = [o for o, v in (("--summary", args.summary), ("--hint", args.hint),
                                ("--local", args.local)) if v]  # fmt: skip
        if given:
            print(f"digest: error: {given[0]} goes with --title", file=sys.stderr)
            return 2
        week = args.week or latest_due_week(clock.utc_now(), settings)
        with Store(settings.storage_path) as store:
            found = explain_week(settings, store, week, clock.utc_now(), story=args.story)
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


def _init(args: argparse.Namespace) -> int:
    from digest.deploy import init_folder, next_steps

    written = init_folder(args.dir, force=args.force)
    for item in written:
        print(f"{'kept ' if item.kept else 'wrote'} {item.path}  ({item.what})")
    for line in next_steps(args.dir):
        print(line)
    return 0


def _run(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    import threading

    from digest.cli.shapes import delivery_json, print_json, run_json
    from digest.mail.deliver import SendStopped
    from digest.mail.report import unsettled_lines
    from digest.run.console import STOPPED, send_progress, stop_on_signals
    from digest.run.pipeline import run_once

    try:
        with stop_on_signals(threading.Event()) as stop, send_progress() as progress:
            result = run_once(
                settings, _secrets(settings), store, clock.utc_now, stop=stop, progress=progress
            )
    except SendStopped as e:
        if args.json:
            print_json({"error": e.message, "delivery": delivery_json(e.report)})
        else:
            for line in e.report.summary_lines():  # what went out before it stopped
                print(line)
        raise
    stopped = result.action == "stopped" or bool(result.delivery and result.delivery.stopped)
    failed = bool(result.delivery and result.delivery.needs_a_person) or bool(result.unsettled)
    code = 1 if failed or result.gather.all_failed else STOPPED if stopped else 0
    if args.json:
        print_json(run_json(result, stopped=stopped))
        return code
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
    return code


def _preview(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    import tempfile
    import webbrowser

    from digest.editorial.selection import latest_due_week, next_week
    from digest.run.pipeline import preview

    now = clock.utc_now()
    # The issue an editor wants to look at is the one being collected: due next.
    week = args.week or next_week(latest_due_week(now, settings))
    known = (*settings.digest.countries, GLOBAL_SECTION)
    unknown = [c for c in args.countries if c not in known]
    if unknown:
        print(
            f"digest: error: --countries: {', '.join(unknown)} is not a section of this "
            f"digest (sections: {', '.join(known)})",
            file=sys.stderr,
        )
        return 2
    folder = Path(tempfile.mkdtemp(prefix="digest-preview-"))
    page = preview(
        settings, store, week, now, folder, language=args.language, countries=args.countries
    )
    url = page.resolve().as_uri()
    print(url)
    if args.open:
        webbrowser.open(url)
    return 0


def _warn_placeholder_links(settings: Settings) -> None:
    from digest.run.links import placeholder_link

    problem = placeholder_link(settings)
    if problem is not None:
        print(
            f"digest: warning: {problem.message} (send, run and daemon refuse to mail them "
            f"to readers)\n  hint: {problem.hint}",
            file=sys.stderr,
        )


def _send(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    import threading

    from digest.editorial.selection import latest_due_week
    from digest.run.console import STOPPED, send_progress, stop_on_signals
    from digest.run.pipeline import send, send_test

    secrets = _secrets(settings)
    week = args.week or latest_due_week(clock.utc_now(), settings)
    if args.to or args.dry_run:
        _warn_placeholder_links(settings)  # a copy to yourself may; readers' never do
    if args.to:
        address = normalize_address(args.to)
        _, message_id = send_test(settings, secrets, store, week, address, clock.utc_now)
        print(f"{week}: test copy sent to {address} ({message_id}); ledger untouched")
        if settings.smtp is None:  # or the tester waits for a mail that never comes
            print(
                f"outbox: {settings.outbox_dir} (no [smtp] in {settings.source.name}: "
                "written there as .eml, not mailed)"
            )
        return 0
    from digest.mail.deliver import SendStopped

    try:
        with stop_on_signals(threading.Event()) as stop, send_progress() as progress:
            built, report = send(
                settings,
                secrets,
                store,
                week,
                clock.utc_now,
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
    if built is not None:  # None: a week without stories is never archived
        print(f"archive: {built.path}")
    # Deferred messages are retried by the next run; a failed or possibly lost
    # one (unknown), of this run or an earlier one, needs a person until settled.
    # Nobody to send to is a send that did nothing: said, and exit 1. Stopped on
    # request, the rest left for the next run: exit 3, unless a reader needs a person.
    if report.needs_a_person or report.no_readers:
        return 1
    return STOPPED if report.stopped else 0
