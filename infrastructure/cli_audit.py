"""`pqasso audit verify [CASE_ID] [--json]`: is the record complete and untouched?

Recomputes each case's hash chain from its stored events and compares it with the stored
hashes and the projected chain heads (infrastructure/audit_chain.py). Read-only, one snapshot.
Exit status: 0 when every case checked is intact, 1 when any is not (or CASE_ID is unknown).
"""

from __future__ import annotations

import argparse
import sys

from infrastructure.audit_chain import Verification, verify
from infrastructure.cli_output import print_json
from infrastructure.database import connect_or_start
from infrastructure.logging import configure_logging
from infrastructure.migrations import migrate
from infrastructure.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``audit verify`` to the ``pqasso`` command."""
    from infrastructure.cli import _case_id  # the CLI's own case id parser

    audit = commands.add_parser("audit", help="tamper evidence").add_subparsers(
        dest="audit_command", required=True)
    check = audit.add_parser(
        "verify", help="recompute every case's hash chain; exit 1 if any event was altered, "
        "deleted, reordered or inserted")
    check.add_argument("case_id", nargs="?", type=_case_id, default=None,
                       help="check only this case")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=audit_verify)


def audit_verify(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    configure_logging(settings.log_format, settings.log_level)
    with connect_or_start(settings) as database:
        if settings.database_url is None:  # the embedded database: as every command, migrate
            migrate(database.url)
        result = verify(database.url, args.case_id)
    unknown = args.case_id is not None and not result.cases
    if args.json:
        print_json({**result.as_dict(), "unknown_case": unknown})
    else:
        _print(result, args.case_id if unknown else None)
    return 0 if result.ok and not unknown else 1


def _print(result: Verification, unknown: object) -> None:
    out = sys.stdout.write
    if unknown is not None:
        out(f"no record of case {unknown}: no event, hash or chain head\n")
        return
    events = sum(case.events for case in result.cases)
    heads = (f"chain heads projected up to event {result.projected_position}"
             if result.heads_projected else "no chain heads projected (run `pqasso projections rebuild`)")
    out(f"checked {len(result.cases)} case(s), {events} event(s); {heads}\n")
    out(f"heads digest: {result.digest}\n")
    for case in result.damaged:
        out(f"case {case.case_id}: {len(case.findings)} problem(s)\n")
        for finding in case.findings:
            where = f"version {finding.version}" if finding.version is not None else "case"
            out(f"  {finding.kind:<10} {where}: {finding.detail}\n")
    out("every case is intact\n" if result.ok else
        f"{len(result.damaged)} case(s) altered, deleted, reordered or inserted outside the service\n")
