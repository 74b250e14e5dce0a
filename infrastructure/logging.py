"""Structured logging: structlog for our code, with stdlib records (uvicorn, psycopg) routed
through the same processors, so every line is either one JSON object or one console line.

Logs go to standard error: standard output belongs to commands such as `pqasso overdue --json`.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

# Imported for its side effect, so it happens before configure_logging() sets levels: on import
# it lowers the psycopg loggers to ERROR, hiding pool and connection warnings operators need.
import eventsourcing.postgres  # noqa: F401
import structlog

LogFormat = Literal["console", "json"]

log = structlog.get_logger(__name__)

_LIBRARY_LEVELS = {"psycopg": logging.WARNING, "psycopg.pool": logging.WARNING}
# Any handlers uvicorn already installed are dropped so its records reach the root handler.
# `pqasso serve` must also pass log_config=None to uvicorn, or uvicorn installs them again.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not when configured
    (pytest and some servers replace it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(fmt: LogFormat = "console", level: str = "INFO") -> None:
    """Configure structlog and the stdlib root logger; calling it again replaces the set-up."""
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level: {level!r}")
    # No line shows the caller's file, line or function, so the stdlib need not walk the
    # stack to find them for every record (the logging HOWTO's "Optimization" section):
    # that walk was a third of the cost of each line `pqasso serve` writes per request.
    logging._srcfile = None  # type: ignore[attr-defined]
    formatter = _formatter(fmt)
    _configure_structlog()
    _install_root_handler(formatter, numeric_level)
    for name, library_level in _LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(library_level)
    for name in _UVICORN_LOGGERS:
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    log.debug("logging_configured", format=fmt, level=level)


def _configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so a later configure_logging() and structlog.testing.capture_logs()
        # reach loggers that modules created at import time.
        cache_logger_on_first_use=False,
    )


def _formatter(fmt: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    if fmt == "json":
        renderer: list[structlog.typing.Processor] = [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    elif fmt == "console":
        # Tracebacks without local variables: they would print request headers (bearer
        # tokens) and connection settings (passwords) into the log.
        renderer = [structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )]
    else:
        raise ValueError(f"unknown log format: {fmt!r}")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def _install_root_handler(formatter: logging.Formatter, level: int) -> None:
    """Replace our handler on the root logger, leaving others' (such as pytest's) in place."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
