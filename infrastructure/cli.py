"""The `pqasso` command (api-v1.md, "Command line")."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError

from application.errors import ApplicationError
from domain.errors import CaseError
from infrastructure import cli_audit, cli_cases, cli_service
from infrastructure.database import DatabaseUnavailable
from infrastructure.embedded_postgres import EmbeddedPostgresError, EmbeddedPostgresUnavailable
from infrastructure.encryption import CipherKeyMismatch
from infrastructure.settings import SettingsError
from infrastructure.whole_numbers import whole_number

log = structlog.get_logger(__name__)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _case_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a case id (a UUID)") from None


def _workers(text: str) -> int:
    count = whole_number(text.strip(), max_digits=2) or 0
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1 to 64)")
    return count


def _port(text: str) -> int:
    port = whole_number(text.strip(), max_digits=5)
    if port is None or not 1 <= port <= 65_535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1 to 65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pqasso", description="PQASSO Quality Mark improvement cases")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API with projections kept up to date")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--workers", type=_workers, default=None,
                       help="processes answering on the port (default: PQASSO_WORKERS, else 1)")
    serve.set_defaults(handler=cli_service.serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="create or upgrade every table, trigger, role and view").set_defaults(
        handler=cli_service.migrate)

    tokens = commands.add_parser("tokens", help="API tokens").add_subparsers(dest="tokens_command", required=True)
    add = tokens.add_parser("add", help="print a new API token once (only its hash is stored)")
    add.add_argument("--role", required=True, choices=["admin", "lead_reviewer", "organisation", "auditor", "reporting"])
    add.add_argument("--principal", required=True)
    add.set_defaults(handler=cli_service.tokens_add)
    tokens.add_parser("list", help="list tokens (never the tokens themselves)").set_defaults(
        handler=cli_service.tokens_list)
    revoke = tokens.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=cli_service.tokens_revoke)

    case = commands.add_parser("case", help="a case's state, now or after its first N events")
    case.add_argument("case_id", type=_case_id)
    case.add_argument("--version", type=int)
    case.add_argument("--json", action="store_true")
    case.set_defaults(handler=cli_cases.show_case)

    history = commands.add_parser("history", help="a case's events in order")
    history.add_argument("case_id", type=_case_id)
    history.add_argument("--json", action="store_true")
    history.set_defaults(handler=cli_cases.show_history)

    overdue = commands.add_parser("overdue", help="overdue obligations on a date (default today)")
    overdue.add_argument("--on", type=_date, default=None)
    overdue.add_argument("--json", action="store_true")
    overdue.set_defaults(handler=cli_cases.show_overdue)

    upcoming = commands.add_parser("upcoming", help="obligations due in the next N days")
    upcoming.add_argument("--days", type=int, default=14)
    upcoming.add_argument("--on", type=_date, default=None)
    upcoming.add_argument("--json", action="store_true")
    upcoming.set_defaults(handler=cli_cases.show_upcoming)

    deadlines = commands.add_parser("deadlines", help="the deadline job").add_subparsers(
        dest="deadlines_command", required=True)
    run = deadlines.add_parser("run", help="record what the passing of time causes; idempotent")
    run.add_argument("--on", type=_date, default=None)
    run.set_defaults(handler=cli_service.deadlines_run)

    projections = commands.add_parser("projections", help="read models").add_subparsers(
        dest="projections_command", required=True)
    projections.add_parser("rebuild", help="drop and rebuild every read model").set_defaults(
        handler=cli_service.projections_rebuild)
    projections.add_parser("run", help="keep the read models up to date (a worker)").set_defaults(
        handler=cli_service.projections_run)
    status = projections.add_parser("status", help="each projection's position and lag")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cli_service.projections_status)

    report = commands.add_parser("report", help="reporting figures")
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.set_defaults(handler=cli_cases.show_report)

    demo = commands.add_parser("demo", help="load example cases (the guidance's example among them)")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(handler=cli_cases.load_demo_cases)

    cli_audit.add_parser(commands)  # pqasso audit verify [CASE_ID]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (CaseError, ApplicationError) as error:
        log.info("command_refused", error=type(error).__name__, detail=str(error))
        sys.stderr.write(f"pqasso: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        reason = why_it_cannot_run(error)
        if reason is None:
            raise  # a fault of ours: the whole traceback
        log.info("command_failed", error=type(error).__name__)
        sys.stderr.write(f"pqasso: {reason}\n")
        return 1


def why_it_cannot_run(error: BaseException) -> str | None:
    """One line for a failure of the surroundings, not of the code: a setting, the database
    (unreachable, not migrated, the wrong key), a folder. None for anything else."""
    causes = [error]
    while causes[-1].__cause__ is not None and len(causes) < 10:
        causes.append(causes[-1].__cause__)
    if any(isinstance(cause, psycopg.errors.UndefinedTable) for cause in causes):
        return ("the database has none of this service's tables yet: run `pqasso db migrate` first "
                f"({_first_line(error)})")
    if isinstance(error, SettingsError | DatabaseUnavailable | EmbeddedPostgresUnavailable
                  | EmbeddedPostgresError | CipherKeyMismatch):
        return _first_line(error)
    if any(isinstance(cause, psycopg.OperationalError | OperationalError | InterfaceError) for cause in causes):
        return f"the database cannot be reached: {_first_line(error)}"
    if isinstance(error, OSError):
        return _first_line(error)
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


if __name__ == "__main__":
    sys.exit(main())
