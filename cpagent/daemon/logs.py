"""Logging fit for journald: `<N>` priority prefixes, one line per record, secrets redacted."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TextIO

from cpagent.redact import REDACTED, Redactor, mask_id_tags

# sd-daemon(3) priority prefixes, read by journald from a service's stdout/stderr.
PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
__all__ = ["REDACTED", "LineFormatter", "SecretFilter", "is_journal", "setup_logging"]


class SecretFilter(logging.Filter):
    """Rewrites every record: secrets redacted in structured places (cpagent.redact), and card
    ids masked to their last 4 characters in records above DEBUG (DEBUG frames show them)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def redact(self, text: str) -> str:
        return self._redactor.redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        text = self.redact(record.getMessage())
        record.msg = text if record.levelno <= logging.DEBUG else mask_id_tags(text)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class LineFormatter(logging.Formatter):
    """One physical line per record (newlines escaped); journal style or with timestamps."""

    def __init__(self, journal: bool) -> None:
        stamp = "" if journal else "%(asctime)s %(levelname)s "
        super().__init__(stamp + "%(name)s: %(message)s")
        self._journal = journal

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record).replace("\n", "\\n")
        if self._journal:
            return f"<{PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def is_journal(env: Mapping[str, str] | None = None) -> bool:
    """True when stderr goes to journald (systemd sets JOURNAL_STREAM, systemd.exec(5))."""
    return bool((os.environ if env is None else env).get("JOURNAL_STREAM"))


def setup_logging(
    level: str | int = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    journal: bool | None = None,
) -> logging.Handler:
    """Replace the root logger's handlers with one redacting, one-line handler; return it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LineFormatter(is_journal() if journal is None else journal))
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
