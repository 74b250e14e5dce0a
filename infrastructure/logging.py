"""Structured logging: structlog for our code, with stdlib records (uvicorn, psycopg) routed
through the same processors, so every line is either one JSON object or one console line.

Logs go to standard error: standard output belongs to commands such as `pqasso overdue --json`.
Our own lines go from structlog straight to the stream, rendered by the same renderer as the
stdlib's records (which go through the root logger's handler): a line through the stdlib's
logging machinery (record, handler, formatter) cost more than the rest of the request's
logging, and `pqasso serve` writes two lines per command. Both paths take one lock per line,
so lines from different threads never interleave.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, Literal, TextIO

# Imported for its side effect, so it happens before configure_logging() sets levels: on import
# it lowers the psycopg loggers to ERROR, hiding pool and connection warnings operators need.
import eventsourcing.postgres  # noqa: F401
import structlog

from application.loggers import reassemble_loggers

LogFormat = Literal["console", "json"]

log = structlog.get_logger(__name__)

_LIBRARY_LEVELS = {"psycopg": logging.WARNING, "psycopg.pool": logging.WARNING}
# Any handlers uvicorn already installed are dropped so its records reach the root handler.
# `pqasso serve` must also pass log_config=None to uvicorn, or uvicorn installs them again.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

# Fields every line of this process carries, in every thread (``bind_process``).
_PROCESS_FIELDS: dict[str, Any] = {}


def bind_process(**fields: Any) -> None:
    """Add ``fields`` to every log line this process writes from now on, from any thread
    (contextvars are per thread): e.g. the worker index of a `pqasso serve --workers` process."""
    _PROCESS_FIELDS.update(fields)


def _add_process_fields(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in _PROCESS_FIELDS.items():
        event.setdefault(key, value)
    return event


_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    _add_process_fields,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


# One lock for every line written to standard error, by either path.
_WRITE_LOCK = threading.RLock()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not when configured
    (pytest and some servers replace it)."""

    def createLock(self) -> None:  # noqa: N802 (the stdlib's name)
        self.lock = _WRITE_LOCK

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class _StderrLogger:
    """structlog's output for our own lines: the rendered line, to whatever `sys.stderr` is."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name  # for structlog.stdlib.add_logger_name

    def msg(self, message: str) -> None:
        with _WRITE_LOCK:
            stream = sys.stderr
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _stderr_logger(*args: Any) -> _StderrLogger:
    """structlog's logger factory: ``structlog.get_logger(__name__)`` names the logger."""
    return _StderrLogger(args[0] if args and isinstance(args[0], str) else None)


def configure_logging(fmt: LogFormat = "console", level: str = "INFO") -> None:
    """Configure structlog and the stdlib root logger; calling it again replaces the set-up."""
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level: {level!r}")
    # No line shows the caller's file, line or function, so the stdlib need not walk the
    # stack to find them for every record (the logging HOWTO's "Optimization" section):
    # that walk was a third of the cost of each line `pqasso serve` writes per request.
    logging._srcfile = None  # type: ignore[attr-defined]
    renderer = _renderer(fmt)
    _configure_structlog(renderer, numeric_level)
    _install_root_handler(_formatter(renderer), numeric_level)
    for name, library_level in _LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(library_level)
    for name in _UVICORN_LOGGERS:
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    log.debug("logging_configured", format=fmt, level=level)


def _configure_structlog(renderer: list[structlog.typing.Processor], level: int) -> None:
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, *renderer],
        logger_factory=_stderr_logger,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Not cached, so a later configure_logging() and structlog.testing.capture_logs()
        # reach loggers that modules created at import time.
        cache_logger_on_first_use=False,
    )
    reassemble_loggers()  # the loggers of the lines written at every command (application/loggers.py)


def _renderer(fmt: LogFormat) -> list[structlog.typing.Processor]:
    if fmt == "json":
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    if fmt == "console":
        # Tracebacks without local variables: they would print request headers (bearer
        # tokens) and connection settings (passwords) into the log.
        return [structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )]
    raise ValueError(f"unknown log format: {fmt!r}")


def _formatter(renderer: list[structlog.typing.Processor]) -> structlog.stdlib.ProcessorFormatter:
    """Renders the stdlib's records (uvicorn, psycopg, the eventsourcing library) like ours."""
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
