"""Structured logging: one JSON object per line, with whatever ``extra`` fields a caller
attaches (request id, task id, project id). Only entry points call ``configure_logging``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
# uvicorn adds "color_message", a copy of the message with terminal colour codes.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Control characters a message may carry (a URL path is the client's), as escapes: a
# client must not be able to end a log line and forge the next one.
# C0 and C1 controls and the Unicode line separators: every character a terminal or a log
# shipper may take for the end of a line.
_CONTROLS = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


class TextFormatter(logging.Formatter):
    """One line per record, the message then its ``extra`` fields as key=value (what project,
    which warnings: a line without them says little). A traceback follows on lines of its
    own, each indented, so that an exception's text cannot pass for a record of its own."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                line += f" {key}={json.dumps(text) if ' ' in text or not text else text}"
        return line.translate(_CONTROLS)

    def formatException(self, ei: Any) -> str:
        text = super().formatException(ei)
        return "\n".join(f"    | {line.translate(_CONTROLS)}" for line in text.splitlines())


class _ErrorWithoutTraceback(logging.Filter):
    """opensearch-py warns with a whole traceback for every call to a node that failed,
    though it retries on another node: a node's death would fill the log with them. The
    error's last line says what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.error = f"{type(error).__name__}: {error}"
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate our one line per request.
    logging.getLogger("uvicorn.access").disabled = True
    # opensearch-py logs every HTTP call at INFO; our own lines already say what matters.
    engine = logging.getLogger("opensearch")
    engine.setLevel(max(root.level, logging.WARNING))
    if not any(isinstance(f, _ErrorWithoutTraceback) for f in engine.filters):
        engine.addFilter(_ErrorWithoutTraceback())
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "celery"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
