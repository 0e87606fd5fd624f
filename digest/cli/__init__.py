"""The `digest` command line.

Owns: argument parsing, help texts, turning reports into printed lines and
exit codes, and printing a `DigestError` as a message plus hint instead of a
traceback: `main` here, the parser and its help texts in `parser`, the
pipeline's verbs in `commands`, the subscribers, deliveries and feeds verbs in
`lists`, and the clock they read in `clock`.

Doesn't own: any step of the pipeline (see `digest.run.pipeline`).

Never touches: SQL, sockets or templates itself; each verb asks the stage that
owns them. It is the outermost layer: it may import every stage, and nothing
imports it but `digest.__main__` (the `digest` script is `digest.cli:main`).

Exit codes: 0 ok; 1 a run failed (every feed failed, a delivery error, a
reader whose copy is unknown or failed and not settled, `send` with nobody to
send to), or `explain --story` matched no story; 2 bad config, bad arguments,
a refused address or a broken template; 73 a path digest must write is not
writable; 74 the disk is full (or the file-size limit reached); 75 busy:
another digest process holds the publishing lock, or another process held the
database longer than 30 s.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from digest.cli.commands import dispatch
from digest.cli.parser import build_parser
from digest.errors import DigestError
from digest.logs import configure as configure_logs

__all__ = ["build_parser", "main"]

log = logging.getLogger("digest")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logs(getattr(args, "log_level", "warning"), getattr(args, "log_format", "text"))
    try:
        return dispatch(args)
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
