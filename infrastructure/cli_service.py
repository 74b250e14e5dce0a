"""`pqasso` commands that run or administer the service: serve, db, tokens, deadlines, projections."""

from __future__ import annotations

import argparse
import gc
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

import structlog

from application.deadline_job import run_deadline_job
from infrastructure.availability import DatabaseGate
from infrastructure.bootstrap import Service, bootstrap
from infrastructure.cli_cases import read_models, service
from infrastructure.cli_output import print_json, print_table
from infrastructure.database import connect_or_start
from infrastructure.logging import bind_process, configure_logging
from infrastructure.migrations import migrate as migrate_database
from infrastructure.scheduler import DailyDeadlineJob
from infrastructure.serve_workers import (
    ConnectionShares,
    Workers,
    exit_on_stop_signals,
    listening_socket,
)
from infrastructure.settings import Settings, redact
from infrastructure.tokens import TokenStore
from infrastructure.web.sessions_postgres import PostgresSessionStore
from projections.runner import ProjectionSupervisor

log = structlog.get_logger(__name__)


def migrate(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    configure_logging(settings.log_format, settings.log_level)
    with connect_or_start(settings) as database:
        for line in migrate_database(database.url):
            sys.stdout.write(line + "\n")
    return 0


@contextmanager
def _token_store() -> Iterator[TokenStore]:
    """Tokens are issued by the database owner (the service role may only read them)."""
    settings = Settings.from_environ()
    configure_logging(settings.log_format, settings.log_level)
    with connect_or_start(settings) as database:
        if settings.database_url is None:
            migrate_database(database.url)
        store = TokenStore(database.url, max_connections=1)
        try:
            yield store
        finally:
            store.close()


def tokens_add(args: argparse.Namespace) -> int:
    with _token_store() as store:
        try:
            token = store.add(args.role, args.principal)
        except ValueError as refused:  # a blank or overlong principal, a role no token may carry
            sys.stderr.write(f"pqasso: {refused}\n")
            return 1
    sys.stdout.write(token + "\n")
    sys.stderr.write("Keep this token now: only its hash is stored, it cannot be shown again.\n")
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    with _token_store() as store:
        rows = store.list()
    print_table([(t.id, t.role.value, t.principal, t.created_at.isoformat(timespec="seconds"),
                  t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else None) for t in rows],
                ["id", "role", "principal", "created at", "revoked at"])
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    with _token_store() as store:
        revoked = store.revoke(args.token_id)
    if not revoked:
        sys.stderr.write(f"pqasso: no active token with id {args.token_id}\n")
        return 1
    sys.stdout.write(f"revoked token {args.token_id}\n")
    return 0


def deadlines_run(args: argparse.Namespace) -> int:
    today = date.today()
    on = args.on or today
    if on > today:  # refused before connecting: nothing to run
        sys.stderr.write(f"pqasso: --on {on.isoformat()} is after today ({today.isoformat()}): the "
                         "deadline job records only what has already happened\n")
        return 2
    with read_models() as (svc, supervisor):
        result = run_deadline_job(svc.cases, supervisor.view("deadlines"), on, today=today)
    sys.stdout.write(f"{on.isoformat()}: {len(result.lapsed)} case(s) lapsed (evidence deadline missed)\n")
    for case_id in result.lapsed:
        sys.stdout.write(f"  {case_id}\n")
    return 0


def projections_rebuild(args: argparse.Namespace) -> int:
    with service() as svc, ProjectionSupervisor(svc.env) as supervisor:
        applied = supervisor.rebuild()
        statuses = supervisor.status()
    sys.stdout.write(f"replayed {applied} event(s) into {len(statuses)} read model(s)\n")
    return 0


def projections_status(args: argparse.Namespace) -> int:
    with service() as svc, ProjectionSupervisor(svc.env) as supervisor:
        statuses = supervisor.status()
    if args.json:
        print_json([vars(s) for s in statuses])
    else:
        print_table([(s.name, s.position, s.head, s.lag) for s in statuses],
                    ["projection", "position", "event store head", "lag"])
    return 0


def projections_run(args: argparse.Namespace) -> int:
    """A worker: keep every read model up to date until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with service() as svc:
        try:
            _keep_projecting(svc, stop.wait)
        except KeyboardInterrupt:
            pass
        log.info("projection_worker_stopping")
    return 0


def _keep_projecting(svc: Service, until: Callable[[], object]) -> None:
    """Keep every read model of ``svc`` up to date until ``until()`` returns or raises
    (``pqasso projections run``, and the projector of ``pqasso serve --workers``)."""
    with ProjectionSupervisor(svc.env) as supervisor:
        supervisor.start()
        log.info("projection_worker_started", projections=[s.name for s in supervisor.status()])
        until()


def serve(args: argparse.Namespace) -> int:
    """The HTTP API, with projections followed and the deadline job run daily: in this
    process, or in ``--workers`` processes sharing the port (``serve_workers.py``)."""
    settings = Settings.from_environ()
    workers = args.workers if args.workers is not None else settings.workers
    if workers == 1:
        exit_on_stop_signals()  # so that SIGTERM, too, closes the pools and stops the database
        return _serve(settings, args.host, args.port)
    configure_logging(settings.log_format, settings.log_level)
    from infrastructure import serving  # noqa: F401 - before forking: the workers share it
    with connect_or_start(settings) as database:  # the embedded server, if any, is ours
        if settings.database_url is None:
            migrate_database(database.url)
        shared = settings.model_copy(update={"database_url": database.url})
        shares = ConnectionShares(workers)  # before forking: the workers share its memory
        with listening_socket(args.host, args.port) as sock:
            _announce(args.host, args.port, database.url, database.embedded is not None, workers)
            gc.freeze()  # what the workers inherit stays shared: the collector won't touch it
            # Workers 0 to N-1 answer HTTP; worker N is the projector (``_project``).
            return Workers(workers + 1, lambda index: _project(shared, index) if index == workers
                           else _serve(shared, args.host, args.port, sock=sock, worker=index,
                                       shares=shares)).run()


def _announce(host: str, port: int, url: str, embedded: bool, workers: int) -> None:
    log.info("service_listening", url=f"http://{host}:{port}", database=redact(url),
             embedded=embedded, workers=workers)
    sys.stderr.write(
        f"pqasso is listening on http://{host}:{port}: pages for CES staff at /ui/, "
        "the API's description at /openapi.json.\n"
        "First admin token: run `pqasso tokens add --role admin --principal YOUR-NAME` with the "
        "same PQASSO_DATABASE_URL / PQASSO_DATA_DIR.\n"
    )


def _project(settings: Settings, worker: int) -> int:
    """The projector of ``pqasso serve --workers N``: keeps every read model up to date in a
    process of its own (restarted, like the HTTP workers, if it dies). Under load the live
    projections take a fifth of the leading process's Python time; in an HTTP worker that
    fifth was taken from the requests of the clients it holds, half of them."""
    svc = bootstrap(settings, migrate_first=False)
    bind_process(worker=worker, role="projector")
    try:
        _keep_projecting(svc, _until_stopped)
    finally:
        svc.close()


def _until_stopped() -> None:
    """Sleep until SIGTERM (in a worker, ``serve_workers`` makes it a SystemExit, which goes
    through the callers' finally blocks)."""
    while True:
        time.sleep(3600)


def _serve(settings: Settings, host: str, port: int, *, sock: socket.socket | None = None,
           worker: int | None = None, shares: ConnectionShares | None = None) -> int:
    """One process of the service. ``worker``: its index among ``--workers`` (``sock`` is
    then the shared listening socket, already bound, and ``shares`` the workers' counts of
    connections); only worker 0 runs the deadline job. Alone, it follows the projections
    itself; as a worker it leaves that to the projector (``_project``) and only reads."""
    from infrastructure import serving

    svc = bootstrap(settings, migrate_first=settings.database_url is None)
    if worker is not None:
        bind_process(worker=worker)  # on every line, from every thread of this worker
    supervisor = ProjectionSupervisor(svc.env)
    tokens = TokenStore(svc.database.url, timeout=settings.database_timeout,
                        remember_for=settings.token_cache_seconds)
    gate = DatabaseGate(svc.database.url)  # 503 at once while the database is down
    job = DailyDeadlineJob(svc.cases, supervisor.view("deadlines"),
                           caught_up=supervisor.wait_until_caught_up) if not worker else None
    # In the database, so that every worker (and the next start) knows every session.
    sessions = PostgresSessionStore(svc.database.url, timeout=settings.database_timeout)
    try:
        gate.start()
        if worker is None:
            supervisor.start()
        else:
            supervisor.stand_by()
        if job is not None:
            job.start()
        if worker is None:
            _announce(host, port, svc.database.url, svc.database.embedded is not None, 1)
        over_share = None
        if shares is not None and worker is not None:
            shares.started(worker)

            def over_share() -> bool:  # this worker's open connections, against the others'
                return shares.over_share(worker, len(server.server_state.connections))
        server = serving.server(svc.cases, settings, tokens=tokens, supervisor=supervisor,
                                gate=gate, sessions=sessions, host=host, port=port,
                                over_share=over_share)
        # What start-up made (the API, its models and schemas, the pools) lives as long as
        # the process: out of the collector's sight, a full collection no longer walks it
        # (25-75 ms with every request of this process waiting, BENCHMARKS.md).
        gc.freeze()
        server.run(sockets=None if sock is None else [sock])
    finally:
        gate.stop()
        if job is not None:
            job.stop()
        supervisor.close()
        sessions.close()
        tokens.close()
        svc.close()
    return 0
