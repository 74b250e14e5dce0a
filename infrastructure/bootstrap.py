"""The only place that builds the service: settings -> database -> migrations -> application.

Everything that runs the application (the CLI, the HTTP server, tests) calls ``bootstrap()``
or, for a bare application on a given database, ``application_env()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.utils import get_topic

from application.cases import QualityMarkCases
from infrastructure.database import DatabaseHandle, connect_or_start
from infrastructure.encryption import check_key
from infrastructure.logging import configure_logging
from infrastructure.migrations import migrate
from infrastructure.recorder import CasesRecorder
from infrastructure.settings import Settings


def application_env(database_url: str | None, settings: Settings | None = None) -> dict[str, str]:
    """The eventsourcing environment for ``QualityMarkCases``: in memory when no URL is given.

    Pass it as ``env=``: it beats ``os.environ`` for the same (unprefixed) keys.
    """
    if database_url is None:
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    settings = settings or Settings()
    return {
        **settings.eventsourcing_env(database_url),
        "APPLICATION_RECORDER_TOPIC": get_topic(CasesRecorder),
        # `pqasso db migrate` creates the tables (as their owner); the service's role may
        # not be allowed to, and must not race other processes doing DDL at start-up.
        "CREATE_TABLE": "false",
    }


@dataclass
class Service:
    """A running service: its settings, database (None in memory), application and env."""

    settings: Settings
    database: DatabaseHandle | None
    cases: QualityMarkCases
    env: dict[str, str]

    def close(self) -> None:
        """Close the application's connection pool, then stop the embedded server (if ours)."""
        try:
            self.cases.close()
        finally:
            if self.database is not None:
                self.database.close()


def bootstrap(
    settings: Settings | None = None,
    *,
    in_memory: bool = False,
    migrate_first: bool = True,
    configure_logs: bool = True,
) -> Service:
    """Build the service from ``settings`` (default: ``Settings.from_environ()``)."""
    settings = settings or Settings.from_environ()
    if configure_logs:
        configure_logging(settings.log_format, settings.log_level)
    if in_memory:
        env = application_env(None, settings)
        return Service(settings, None, QualityMarkCases(env=env), env)
    database = connect_or_start(settings)
    try:
        if migrate_first:
            migrate(database.url)
        env = application_env(database.url, settings)
        cases = QualityMarkCases(env=env)
        try:  # a wrong PQASSO_CIPHER_KEY stops the service here, not on every read
            check_key(cases, key_given=settings.cipher_key is not None)
        except BaseException:
            cases.close()
            raise
    except BaseException:
        database.close()
        raise
    return Service(settings, database, cases, env)
