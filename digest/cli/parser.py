"""The `digest` command line's grammar: its commands, options and help texts.

Owns: building the argparse parser (`build_parser`), every help text and
description a reader sees with `--help` (and `digest help COMMAND`), the
argument types that refuse a bad week or country code before any command runs,
and the "did you mean" suggestion for a mistyped command or option
(`DigestParser`, `check_options`).

Never touches: settings, the database or any step of the pipeline; parsing an
argument list reads nothing but the argument list.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from digest import __version__
from digest.cli.completion import SHELLS, where_text
from digest.errors import DigestError
from digest.logs import FORMATS, LEVELS, level_name

# digest.config.SUPPORTED_LANGUAGES, spelt out (tests/test_startup.py checks they
# agree): importing the settings loader would cost `--help` and every TAB press
# about 60 ms, and the grammar needs only these two words.
SUPPORTED_LANGUAGES = ("ja", "en")


class DigestParser(argparse.ArgumentParser):
    """argparse, with a suggestion for a mistyped command or subcommand:
    `digest sned` → "unknown command 'sned' (did you mean 'send'?)", exit 2.
    (Python 3.14's `suggest_on_error` does the same; digest runs on 3.11.)"""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # The one place argparse checks a subcommand's name, for every level.
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            names = list(action.choices)
            close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
            said = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(names)}"
            raise argparse.ArgumentError(None, f"unknown command {value!r} ({said})")
        super()._check_value(action, value)

    def error(self, message: str) -> NoReturn:
        # `digest` or `digest subscribers` alone: show what there is to choose from
        # (argparse would only say "the following arguments are required: COMMAND").
        missing = message.removeprefix("the following arguments are required: ")
        if missing in ("COMMAND", "ACTION"):
            self.print_help(sys.stderr)
            self.exit(2, f"{self.prog}: error: which {missing.lower()}? (listed above)\n")
        super().error(message)

    def check_options(self, argv: Sequence[str]) -> None:
        """Refuse a mistyped option with a suggestion, at the level it was given:
        `digest send --weak W` → "unrecognized arguments: --weak (did you mean
        '--week'?)". Run before `parse_args`, because argparse alone takes the value
        after an unknown option for the command (`digest --cofnig x.toml gather` →
        "unknown command 'x.toml'") and names no option that was meant."""
        parser: argparse.ArgumentParser = self
        tokens = list(argv)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            i += 1
            if token == "--":
                return  # everything after it is an argument
            if token == "-" or not token.startswith("-") or _NUMBER.match(token):
                sub = _subcommands(parser)
                if sub is None:
                    continue  # a leaf command's positional argument
                if token not in sub.choices:
                    return  # argparse says "unknown command …"
                parser = sub.choices[token]
                continue
            name, has_value = token.split("=", 1)[0], "=" in token
            action = _option(parser, name)
            if action is None:
                if (not name.startswith("--") and len(name) > 2) or any(
                    o.startswith(name) for o in parser._option_string_actions
                ):
                    return  # "-abc" or an ambiguous prefix: argparse judges
                options = sorted(o for o in parser._option_string_actions if o.startswith("--"))
                close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
                said = f" (did you mean {close[0]!r}?)" if close else ""
                parser.error(f"unrecognized arguments: {name}{said}")
            if action.nargs not in (None, 0) or isinstance(
                action, (argparse._HelpAction, argparse._VersionAction)
            ):
                return  # --help, --version, or an option of several values: argparse
            if action.nargs is None and not has_value:
                i += 1  # its value, whatever it looks like


_NUMBER = re.compile(r"^-\d")  # "-1": a value, as argparse reads it, not an option


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _option(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    """The action of option `name` as argparse matches it: exactly, or a long
    option's unambiguous prefix (`--conf` is `--config`); None when none matches."""
    known = parser._option_string_actions
    if name in known:
        return known[name]
    if not name.startswith("--"):
        return None
    matches = {known[o] for o in known if o.startswith(name)}
    return matches.pop() if len(matches) == 1 else None


def _week_arg(value: str) -> str:
    # Imported here: the editorial stage is heavy, and a TAB press (which builds
    # this parser in a new process) never needs it.
    from digest.editorial.selection import parse_week

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


def _sections_arg(value: str) -> tuple[str, ...]:
    from digest.models import GLOBAL_SECTION  # here: a TAB press never needs the models

    codes = tuple(c.strip().upper() for c in value.split(",") if c.strip())
    for code in codes:
        if code != GLOBAL_SECTION and (len(code) != 2 or not code.isalpha()):
            raise argparse.ArgumentTypeError(
                f"{code!r} is not a two-letter country code or {GLOBAL_SECTION}"
            )
    if not codes:
        raise argparse.ArgumentTypeError("no section code given")
    return codes


def _feeds_actions(p: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """`digest feeds list|add|remove|import|export`: the configured feeds, edited in
    the config file with its comments kept. Without an action: each feed's standing."""
    fs = p.add_subparsers(dest="action", metavar="ACTION", required=False)
    a = fs.add_parser(
        "list",
        parents=[common],
        help="the configured feeds, their keys and their standing",
        description="Print each configured feed: its standing (as `digest feeds`), its "
        "URL, its keys (name, country, language, filter, local) and what the last runs "
        "learnt, then a count per standing. Fetches nothing.",
    )
    # SUPPRESS: `digest feeds --json list` keeps the --json given before the action.
    a.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="one JSON object per line, per feed (see README)",
    )
    a = fs.add_parser(
        "add",
        parents=[common],
        help="add a feed to the config file",
        description="Add a [[feeds]] table after the last one in the config file, keeping "
        "its comments and layout. The file is checked as digest loads it before it is "
        "written (atomically): a bad URL or value writes nothing and names the key. A URL "
        "already configured is refused.",
    )
    a.add_argument("url", metavar="URL", help="the feed's http(s) address (RSS or Atom)")
    a.add_argument("--name", default="", help="source name shown to readers")
    a.add_argument("--country", default="", metavar="CC", help="country hint, e.g. KR")
    a.add_argument("--language", default="", metavar="L", help="language hint, e.g. ja")
    a.add_argument(
        "--filter",
        default="",
        metavar="ai",
        help='keep only stories about AI (a general outlet: filter = "ai")',
    )
    a.add_argument(
        "--local",
        action="store_true",
        help="local news: its stories that name no country are about --country",
    )
    a.add_argument("--site", default="", metavar="URL", help="the outlet's web page (OPML)")
    a = fs.add_parser(
        "remove",
        parents=[common],
        help="remove a feed from the config file",
        description="Remove the [[feeds]] table with this URL (exactly as configured) "
        "from the config file; every comment stays. Its stored posts are kept.",
    )
    a.add_argument("url", metavar="URL")
    a = fs.add_parser(
        "import",
        parents=[common],
        help="add the feeds of an OPML file (a feed reader's export)",
        description="Add every feed outline (xmlUrl) of an OPML 2.0 file, folders "
        "included: the title becomes the name, a folder or category naming one of the "
        "digest's countries (KR, Japan, 台湾, …) the country. Feeds already configured "
        "and bad entries are skipped with one line each (exit 1 if any was bad). A file "
        "with a DTD or entities is refused whole.",
    )
    a.add_argument("file", metavar="FILE", help="OPML file, or - for standard input")
    a = fs.add_parser(
        "export",
        parents=[common],
        help="write the configured feeds as OPML 2.0",
        description="Write every configured feed as an OPML 2.0 outline any feed reader "
        "imports (title, xmlUrl, htmlUrl when known, the country as its category), with "
        "digest's own keys in a namespace, so export then import gives the same feeds.",
    )
    a.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="output file (default: stdout)"
    )


def build_parser() -> DigestParser:
    common = DigestParser(add_help=False)
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
        type=level_name,  # DEBUG, Info, …: any case, still one of LEVELS
        choices=LEVELS,
        help=f"log verbosity: {', '.join(LEVELS)}, any case (default: warning)",
    )
    common.add_argument(
        "--log-format",
        default=argparse.SUPPRESS,
        type=str.lower,
        choices=FORMATS,
        help="log lines as readable text (default) or as JSON lines",
    )

    parser = DigestParser(
        prog="digest",
        parents=[common],
        description="Weekly email digest of AI news from Asian hubs, grouped by country.",
        epilog="Run `digest COMMAND --help` for the options of a command. Tab completion: "
        "`digest completion bash|zsh|fish` prints the script (see `digest completion --help`).",
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "gather",
        parents=[common],
        help="poll every feed and store new posts",
        description="Fetch every configured feed (conditional GET) and store new "
        "posts. Exits 1 only when every feed failed.",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object (see README)"
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
    p.add_argument(
        "--countries",
        type=_sections_arg,
        default=(),
        metavar="CC,CC",
        help="show the email a reader of these sections gets, e.g. KR,JP (GLOBAL: the "
        "Global section; default: every section, as the archive shows it)",
    )
    p.add_argument(
        "--language",
        choices=SUPPORTED_LANGUAGES,
        default="",
        help="show the email a reader of this language gets: labels, dates and subject "
        "(default: [digest] language)",
    )
    p.add_argument("--open", action="store_true", help="open it in a web browser")

    p = sub.add_parser(
        "edit",
        parents=[common],
        help="the editor's hand: a note, lead stories, drop, move or order stories",
        description="Open a week's coming issue as a text file in $VISUAL or $EDITOR (else "
        "vi), like `git rebase -i`: write an editor's note (Markdown) at the top, then "
        "mark each story `pick`, `top` (a lead story; at most 3) or `drop`, change its "
        "section code to move it, and reorder lines to set a section's order. The "
        "decisions are checked when you save (a file with problems opens again with "
        "them at the top), kept per week in the database, shown by `preview` and used "
        "by every build, send and run of that week. Nothing waits for them: a week "
        "nobody edited goes out as digest builds it. Refused once the week's issue "
        "started going out.",
    )
    p.add_argument(
        "--week",
        type=_week_arg,
        metavar="YYYY-Www",
        help="ISO week (default: the issue being collected now, due next)",
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--show", action="store_true", help="print the file to standard output; change nothing"
    )
    how.add_argument(
        "--file",
        metavar="F",
        help="read the decisions from file F (- for standard input) instead of an editor; "
        "problems are printed as F:LINE and nothing is saved",
    )

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
        "who has not received it yet. Safe to rerun: nobody gets it twice. SIGTERM or "
        "SIGINT finishes the message in flight and exits 3: the rest goes out on the "
        "next run (a second one stops at once).",
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

    p = sub.add_parser(
        "run",
        parents=[common],
        help="for cron: gather, then publish when due",
        description="Gather, then build and send this week's issue if it is due "
        "and not yet sent (or finish one whose send started). Safe to call every 15 "
        "minutes. Writes a run report under [schedule] reports_dir. SIGTERM or SIGINT "
        "finishes the message in flight and exits 3: the rest goes out on the next run.",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object (see README)"
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
        "inbox",
        parents=[common],
        help="act on bounces, spam complaints and mailto unsubscribes that came back",
        description="Read the mail that arrives after the SMTP session and act on each "
        "message once: a hard bounce (DSN 5.x.x, or a bounce in words) counts like a 5xx "
        "refusal ([delivery] bounce_after), a soft one (4.x.x, delayed, mailbox full) "
        "changes nothing, a spam complaint (ARF) suppresses the reader, a mail to the "
        "List-Unsubscribe mailto unsubscribes when its signed token is valid; "
        "auto-replies and anything else are ignored. Prints one line per message and a "
        "summary. Exits 0 unless the source cannot be read.",
    )
    p.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="a Maildir folder, an mbox file, or - for one message on standard input "
        "(an MTA pipe); default: the [inbox] IMAP folder (password DIGEST_IMAP_PASSWORD)",
    )

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve the readers' pages: subscribe, confirm, preferences, unsubscribe",
        description="Run the web app readers use on their own: a subscribe form with "
        "double opt-in (a confirmation mail, nothing sent before it is confirmed), "
        "preferences (countries, language), one-click unsubscribe (RFC 8058), and the "
        "archive ([web] archive). Runs on waitress; put it behind your https proxy "
        "(--base-path, [web] trusted_proxies). Links in mails use [web] url.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free port)")
    p.add_argument(
        "--base-path",
        default=None,
        help="serve under this path, as the proxy forwards it (e.g. /digest; "
        "default [web] base_path)",
    )

    p = sub.add_parser(
        "subscribers",
        parents=[common],
        help="manage the mailing list",
        description="Add, remove, list, import, export or forget subscribers. An "
        "address that unsubscribed, complained or bounced for good is suppressed: add "
        "and import leave it so unless --resubscribe.",
    )
    ss = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = ss.add_parser(
        "add",
        parents=[common],
        help="add a subscriber",
        description="Add one address; it is validated first. A suppressed address "
        "(unsubscribed, complained, bouncing or forgotten) stays suppressed unless "
        "--resubscribe.",
    )
    a.add_argument("email")
    a.add_argument("--name", default="", help="display name for the To: header")
    a.add_argument(
        "--resubscribe",
        action="store_true",
        help="make a suppressed address active again (only with its owner's consent)",
    )
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
    a.add_argument(
        "--all", action="store_true", help="include pending, unsubscribed, bouncing, complained"
    )
    a.add_argument("--json", action="store_true", help="one JSON object per line, per subscriber")
    a = ss.add_parser(
        "import",
        parents=[common],
        help="add subscribers from a CSV file",
        description="Read `email[,name]` rows (a header row naming `email` is "
        "recognised). Refused rows are listed with their line and reason. Suppressed "
        "addresses are counted and left so unless --resubscribe.",
    )
    a.add_argument("file", help="CSV file, or - for standard input")
    a.add_argument(
        "--resubscribe",
        action="store_true",
        help="make suppressed addresses in the file active again (only with consent)",
    )
    a = ss.add_parser(
        "forget",
        parents=[common],
        help="delete every trace of an address (GDPR erasure)",
        description="Delete the subscriber and its delivery history. Only a keyed "
        "fingerprint of the address is kept, so that importing an old list cannot "
        "bring it back (add --resubscribe, or the reader's own confirmed signup, can).",
    )
    a.add_argument("email")
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
        "moved (301/308). Fetches nothing. The actions list, add, remove, import and "
        "export manage the feeds of the config file (`digest feeds ACTION --help`).",
    )
    p.add_argument(
        "--revive",
        metavar="URL",
        action="append",
        default=[],
        help="poll this gone feed again (as configured; repeatable)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line, per feed")
    _feeds_actions(p, common)

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
    p.add_argument(
        "--serve",
        action="store_true",
        help="then serve the readers' pages (subscribe, confirm, preferences, "
        "unsubscribe, the archive) on 127.0.0.1 until Ctrl-C, the demo's SMTP "
        "server still taking their mails",
    )
    p.add_argument("--port", type=int, default=0, help="port for --serve (default: any free one)")

    p = sub.add_parser(
        "completion",
        parents=[common],
        help="print the tab-completion script for bash, zsh or fish",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # one line per shell
        description="Print the script that makes TAB complete digest's commands, options\n"
        "and their values in SHELL. Put it where your shell looks for it:\n\n"
        f"{where_text()}\n\n"
        "Each TAB asks the installed digest, so the script never needs renewing.",
    )
    p.add_argument("shell", choices=SHELLS, help="bash, zsh or fish")

    p = sub.add_parser(
        "help",
        parents=[common],
        help="the help of a command: `digest help send` is `digest send --help`",
        description="Print the help of COMMAND (and its ACTION: `digest help feeds add`), "
        "as `digest COMMAND --help` does; without one, the list of commands.",
    )
    p.add_argument("topic", nargs="*", metavar="COMMAND", help="a command, then its action")
    return parser
