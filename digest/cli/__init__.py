"""The `digest` command line.

Owns: argument parsing, help texts, turning reports into printed lines and
exit codes, and printing a `DigestError` as a message plus hint instead of a
traceback: `main` here, the parser and its help texts in `parser`, the
pipeline's verbs in `commands`, the subscribers, deliveries and feeds verbs in
`lists`, editing the `[[feeds]]` of the TOML file with its comments kept in
`feedfile` and OPML import/export in `opml`, the editor's file of `digest edit`
in `edit`, shell completion in `completion`, the JSON that `--json` prints in
`shapes`, and the clock they read in `clock`.

Doesn't own: any step of the pipeline (see `digest.run.pipeline`).

Never touches: SQL, sockets or templates itself; each verb asks the stage that
owns them. It is the outermost layer: it may import every stage, and nothing
imports it but `digest.__main__` (the `digest` script is `digest.cli:main`).

Exit codes: 0 ok; 1 a run failed (every feed failed, a delivery error, a
reader whose copy is unknown or failed and not settled, `send` with nobody to
send to), or `explain --story` matched no story; 2 bad config, bad arguments
(an unknown command says which one it looks like), a refused address or a
broken template; 3 `send` or `run` stopped on request (SIGINT, SIGTERM) after
finishing the messages in flight, the rest left for the next run
(`digest.run.console.STOPPED`); 73 a path digest must write is not writable; 74
the disk is full (or the file-size limit reached); 75 busy: another digest
process holds the publishing lock, or another process held the database longer
than 30 s; 130 a second Ctrl-C stopped at once; 141 standard output was closed
early (`digest subscribers list | head -1`): quietly, as `cat` killed by SIGPIPE
would be.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
from collections.abc import Sequence

from digest.cli.completion import complete_if_asked
from digest.cli.parser import build_parser
from digest.errors import DigestError
from digest.logs import configure as configure_logs

__all__ = ["build_parser", "main"]

log = logging.getLogger("digest")

# What the shell reports for a process that SIGPIPE killed: `yes | head -1`.
CLOSED_PIPE = 128 + signal.SIGPIPE
# The commands that print a summary naming each failed feed, refused reader or
# returned message: the log records saying the same are left out of their text log
# (digest.logs).
PRINTS_SUMMARY = {"gather", "run", "send", "demo", "inbox"}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            # A closed pipe often shows only here, when the buffered output is
            # written (after --help's SystemExit too).
            sys.stdout.flush()
    except BrokenPipeError as e:
        if not _stdout_closed():
            return _os_error(e)  # a socket's, say: a fault like any other
        # Python ignores SIGPIPE, so a reader that left early (`| head -1`) is an
        # exception on the next write, and again when the interpreter flushes
        # stdout at exit: point stdout at /dev/null so nothing more is said.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return CLOSED_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    complete_if_asked(parser)  # a shell's TAB: answer and exit, before anything else
    parser.check_options(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command == "help":  # prints the help asked for and exits (2: no such command)
        parser.parse_args([*args.topic, "--help"])
    configure_logs(
        getattr(args, "log_level", "warning"),
        getattr(args, "log_format", "text"),
        summary_printed=args.command in PRINTS_SUMMARY,
    )
    from digest.cli.commands import dispatch  # after completion: a TAB stays quick

    try:
        return dispatch(args)
    except DigestError as e:
        print(f"digest: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        raise  # main decides: standard output closed, or another pipe
    except OSError as e:
        return _os_error(e)
    except KeyboardInterrupt:
        print("digest: interrupted", file=sys.stderr)
        return 130


def _os_error(e: OSError) -> int:
    # A file-system fault no layer turned into a DigestError: still one line.
    from digest.state.files import write_error

    error = write_error(e.filename or "(no path)", e, "failed")
    print(f"digest: error: {error}", file=sys.stderr)
    return error.exit_code


def _stdout_closed() -> bool:
    """Whether standard output is a pipe or socket whose reader has gone (poll
    reports POLLERR or POLLHUP on it), as opposed to another pipe breaking."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False
