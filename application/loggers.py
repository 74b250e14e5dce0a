"""Loggers for the lines written at every command: structlog's, assembled once per configuration.

``structlog.get_logger(name)`` gives a lazy proxy that assembles a new bound logger (its
context, its output logger and its wrapper) at every call, so that a later
``structlog.configure`` reaches it: about 18,000 instructions a line, even for a line its
level filters out, 3% of a command's CPU (BENCHMARKS.md, "Appending, one writer").
``logger(name)`` assembles one when it is made, and again whenever the process configures
its logging (``infrastructure.logging.configure_logging`` calls ``reassemble_loggers``), so a
line costs what a call of structlog's bound logger costs. Either way a line goes through the
same processors to the same output: configure structlog through ``configure_logging``
(``structlog.testing.capture_logs``, which changes the processors' list in place, is seen
too).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakSet

import structlog

_LOGGERS: WeakSet[ConfiguredLogger] = WeakSet()


class ConfiguredLogger:
    """Logs as ``structlog.get_logger(name)`` does (``log.info("event", key=value)``...)."""

    debug: Any
    info: Any
    warning: Any
    error: Any
    exception: Any

    def __init__(self, name: str) -> None:
        self._name = name
        self._assemble()
        _LOGGERS.add(self)

    def _assemble(self) -> None:
        """Bind a logger for structlog's configuration now; its methods become this one's."""
        bound = self._bound = structlog.get_logger(self._name).bind()
        self.debug, self.info, self.warning = bound.debug, bound.info, bound.warning
        self.error, self.exception = bound.error, bound.exception

    def __getattr__(self, name: str) -> Any:  # bind(), critical()... as structlog's
        return getattr(self._bound, name)


def logger(name: str) -> ConfiguredLogger:
    """The logger called ``name``, for a module's ``log = logger(__name__)``."""
    return ConfiguredLogger(name)


def reassemble_loggers() -> None:
    """Assemble every such logger again, for structlog's configuration now."""
    for configured in list(_LOGGERS):
        configured._assemble()  # noqa: SLF001
