"""`pqasso` commands that read or record cases: case, history, overdue, upcoming, report, demo."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from application.demo import load_demo
from application.views import case_state, history_item, to_jsonable
from domain.deadlines import last_day_ahead
from infrastructure.bootstrap import Service, bootstrap
from infrastructure.cli_output import print_fields, print_json, print_table
from infrastructure.settings import Settings
from projections.runner import ProjectionSupervisor


@contextmanager
def service() -> Iterator[Service]:
    """The service for one command; the embedded database is migrated on first use."""
    settings = Settings.from_environ()
    svc = bootstrap(settings, migrate_first=settings.database_url is None)
    try:
        yield svc
    finally:
        svc.close()


@contextmanager
def read_models() -> Iterator[tuple[Service, ProjectionSupervisor]]:
    """The service plus its read models, caught up with the event store."""
    with service() as svc, ProjectionSupervisor(svc.env) as supervisor:
        supervisor.catch_up()
        yield svc, supervisor


def show_case(args: argparse.Namespace) -> int:
    with service() as svc:
        state = case_state(svc.cases.get_case(args.case_id, version=args.version))
    if args.json:
        print_json(state)
        return 0
    outcome = state["outcome"]
    print_fields([
        ("case", state["case_id"]),
        ("organisation", f"{state['organisation']['name']} ({state['organisation']['id']})"),
        ("level", state["level"]),
        ("lead reviewer", state["lead_reviewer"]),
        ("site visit", state["visit_date"]),
        ("status", state["status"]),
        ("version", state["version"]),
        ("outcome", f"{outcome['recommendation']} on {outcome['decided_on']}: {outcome['reason']}" if outcome else None),
        ("unmet indicators", ", ".join(row["indicator"] for row in state["unmet_indicators"])),
    ])
    sys.stdout.write("\ndeadlines\n")
    print_table(
        [(d["obligation"], d["owed_by"], d["due_on"], d["state"], d["closed_on"]) for d in state["deadlines"]],
        ["obligation", "owed by", "due on", "state", "closed on"],
    )
    return 0


def show_history(args: argparse.Namespace) -> int:
    with service() as svc:
        items = [history_item(event) for event in svc.cases.history(args.case_id)]
    if args.json:
        print_json(items)
        return 0
    print_table(
        [(i["version"], i["type"], i["recorded_at"], f"{i['actor']['principal']} ({i['actor']['role']})")
         for i in items],
        ["version", "event", "recorded at", "actor"],
    )
    return 0


def show_overdue(args: argparse.Namespace) -> int:
    day = args.on or date.today()
    with read_models() as (_, supervisor):
        items = [to_jsonable(item) for item in supervisor.view("deadlines").overdue_on(day)]
    return _print_obligations(items, args.json, extra=("days_overdue", "days overdue"))


def show_upcoming(args: argparse.Namespace) -> int:
    day = args.on or date.today()
    last_day_ahead(day, args.days)  # refused (InvalidInput) before connecting
    with read_models() as (_, supervisor):
        items = [to_jsonable(item) for item in supervisor.view("deadlines").upcoming(day, args.days)]
    return _print_obligations(items, args.json, extra=("days_left", "days left"))


def _print_obligations(items: list[dict], as_json: bool, *, extra: tuple[str, str]) -> int:
    if as_json:
        print_json(items)
        return 0
    key, label = extra
    print_table(
        [(i["case_id"], i["organisation"]["name"], i["obligation"], i["owed_by"], i["due_on"], i.get(key),
          i["lead_reviewer"]) for i in items],
        ["case", "organisation", "obligation", "owed by", "due on", label, "lead reviewer"],
    )
    return 0


def show_report(args: argparse.Namespace) -> int:
    with read_models() as (_, supervisor):
        report = to_jsonable(supervisor.view("reporting").report())
    if args.format == "json":
        print_json(report)
        return 0
    for name, rows in report.items():
        sys.stdout.write(f"\n{name}\n")
        headers = list(rows[0]) if rows else ["(no rows)"]
        if args.format == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(headers)
            writer.writerows([row.get(h) for h in headers] for row in rows)
        else:
            print_table([[row.get(h) for h in headers] for row in rows], headers)
    return 0


def load_demo_cases(args: argparse.Namespace) -> int:
    with service() as svc:
        cases = load_demo(svc.cases)
    if args.json:
        print_json([{"title": c.title, "case_id": str(c.case_id), "status": c.status} for c in cases])
    else:
        print_table([(c.case_id, c.status, c.title) for c in cases], ["case", "status", "example"])
    return 0
