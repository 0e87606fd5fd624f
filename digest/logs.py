"""Log output: readable lines on a terminal, or JSON lines for log collectors.

Owns: configuring the `logging` root for the CLI (`--log-level`,
`--log-format text|json`). Doesn't own: what is logged (each module logs to
its own `logging.getLogger(__name__)`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

FORMATS = ("text", "json")
_HANDLER_NAME = "digest-cli"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def configure(level: str = "warning", fmt: str = "text") -> None:
    """Send log records to stderr in `fmt` (calling it again replaces the earlier one)."""
    handler: logging.StreamHandler[_CurrentStderr] = logging.StreamHandler(_CurrentStderr())
    if fmt == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler: others (a test harness's, say) stay attached.
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
