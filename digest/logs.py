"""Log output: readable lines on a terminal, or JSON lines for log collectors.

Owns: configuring the `logging` root for the CLI (`--log-level`, any case, and
`--log-format text|json`), and holding back, in text, the records a command's
printed summary repeats (`IN_SUMMARY`). Doesn't own: what is logged (each module
logs to its own `logging.getLogger(__name__)`) or the summaries themselves.

Each warning is said once. A record logged with `extra=IN_SUMMARY` (a failed
feed, a refused reader, a returned message: things `gather`, `send`, `run`,
`demo` and `inbox` print a line for on stdout anyway) is dropped by the text
handler while such a command runs, so a person at a terminal reads it once, in
the summary. The daemon prints no summary, so it logs them; and `--log-format
json` always keeps them: a collector reads stderr's records, whatever the
command prints on stdout.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
_HANDLER_NAME = "digest-cli"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# `log.warning(..., extra=IN_SUMMARY)`: the command's printed summary says this too.
IN_SUMMARY: Final[Mapping[str, object]] = {"in_summary": True}


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is when a record is emitted, not when the
    handler was made (a test harness or a daemonising wrapper may replace it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _not_in_summary(record: logging.LogRecord) -> bool:
    return not getattr(record, "in_summary", False)


def level_name(value: str) -> str:
    """`--log-level` in any case ("DEBUG", "Info"), as the lower-case name; argparse
    then checks it against `LEVELS`."""
    return value.strip().lower()


def configure(level: str = "warning", fmt: str = "text", *, summary_printed: bool = False) -> None:
    """Send log records to stderr in `fmt` (calling it again replaces the earlier one).

    `summary_printed`: the command prints a summary naming what `IN_SUMMARY`
    records say, so the text handler leaves them out (see the module doc)."""
    handler: logging.StreamHandler[_CurrentStderr] = logging.StreamHandler(_CurrentStderr())
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
        if summary_printed:
            handler.addFilter(_not_in_summary)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler: others (a test harness's, say) stay attached.
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
