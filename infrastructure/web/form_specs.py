"""The forms for opening a case and for the plan: a site visit, the plan received by post,
the lead reviewer's approval or request for changes. Each reuses the JSON API's body model."""

from __future__ import annotations

from datetime import date
from typing import Any

from application.authorization import Action
from domain.case import Case
from domain.participants import Actor, Role
from infrastructure.http import bodies as b
from infrastructure.web.forms import (
    Field,
    FormSpec,
    Group,
    Values,
    compact_rows,
    row_count,
    signature_body,
    signature_fields,
)
from infrastructure.web.labels import value_of
from infrastructure.whole_numbers import whole_number

MIN_UNMET_ROWS, MAX_UNMET_ROWS = 3, b.MAX_ROWS
ADD_ROW = "add_row"


def _unmet_rows(case: Case | None, values: Values) -> int:
    wanted = row_count(values, "unmet_indicators") + (1 if values.get(ADD_ROW) else 0)
    return min(max(wanted, MIN_UNMET_ROWS), MAX_UNMET_ROWS)


def _open_layout(case: Case | None, values: Values) -> list[Group]:
    groups = [
        Group("Organisation", (
            Field("organisation.id", "Organisation id", hint="As CES records it, e.g. org-1.", short=True),
            Field("organisation.name", "Organisation name"),
        )),
        Group("Site visit", (
            Field("level", "PQASSO level assessed", "select", (("1", "Level 1"), ("2", "Level 2"), ("3", "Level 3"))),
            Field("visit_date", "Date of the site visit", "date"),
            Field("lead_reviewer", "Lead reviewer's id", hint="A lead reviewer may name only themselves.",
                  short=True),
        )),
    ]
    rows = tuple(
        f for i in range(_unmet_rows(case, values)) for f in (
            Field(f"unmet_indicators.{i}.indicator", f"Indicator {i + 1}", optional=True,
                  hint="area.level.number, e.g. 4.2.7", short=True),
            Field(f"unmet_indicators.{i}.findings", f"Peer reviewer findings for indicator {i + 1}",
                  "textarea", optional=True, rows=2),
        )
    )
    groups.append(Group("On-site Report: indicators not met", rows, name="unmet_indicators",
                        hint="One row per unmet indicator; leave the rest blank. With none, the case "
                        "is recommended at once."))
    return groups


def _open_initial(case: Case | None, actor: Actor, today: date) -> Values:
    reviewer = actor.principal if actor.role is Role.LEAD_REVIEWER else ""
    return {"visit_date": today.isoformat(), "lead_reviewer": reviewer, "level": ""}


def _level(text: str) -> Any:
    number = whole_number(text.strip(), max_digits=3)
    return text if number is None else number


def _open_body(values: Values, case: Case | None) -> tuple[dict[str, Any], dict[str, str]]:
    rows, renames = compact_rows(values, "unmet_indicators", ("indicator", "findings"), MAX_UNMET_ROWS + 1)
    return {
        "organisation": {"id": values.get("organisation.id", ""), "name": values.get("organisation.name", "")},
        "level": _level(values.get("level", "")), "visit_date": values.get("visit_date", ""),
        "lead_reviewer": values.get("lead_reviewer", ""), "unmet_indicators": rows,
    }, renames


def _plan_layout(case: Case | None, values: Values) -> list[Group]:
    assert case is not None
    changes = {c.indicator: c.comment for c in case.requested_changes}
    groups = [
        Group(f"Indicator {row.indicator}", (
            Field(f"rows.{i}.indicator", "Indicator", "hidden"),
            Field(f"rows.{i}.findings", "Peer reviewer findings", "textarea", hint="As in the On-site Report."),
            Field(f"rows.{i}.improvement_required", "Improvement required", "textarea"),
        ), name=f"rows.{i}", hint=f"Changes requested: {changes[row.indicator]}" if row.indicator in changes else "")
        for i, row in enumerate(case.unmet_indicators)
    ]
    return [*groups, signature_fields()]


def _plan_initial(case: Case | None, actor: Actor, today: date) -> Values:
    assert case is not None
    improvement = {row.indicator: row.improvement_required for row in case.plan}
    values = {"received_on": today.isoformat()}
    for i, row in enumerate(case.unmet_indicators):
        values |= {f"rows.{i}.indicator": row.indicator, f"rows.{i}.findings": row.findings,
                   f"rows.{i}.improvement_required": improvement.get(row.indicator, "")}
    if case.plan_signed_by is not None:
        values |= {"signed_by.name": case.plan_signed_by.name,
                   "signed_by.position": value_of(case.plan_signed_by.position)}
    return values


def _plan_body(values: Values, case: Case | None) -> tuple[dict[str, Any], dict[str, str]]:
    assert case is not None
    rows = [{key: values.get(f"rows.{i}.{key}", "") for key in ("indicator", "findings", "improvement_required")}
            for i in range(len(case.unmet_indicators))]
    return {"rows": rows, **signature_body(values)}, {}


def _changes_layout(case: Case | None, values: Values) -> list[Group]:
    assert case is not None
    rows = tuple(
        f for i, row in enumerate(case.plan) for f in (
            Field(f"changes.{i}.indicator", "Indicator", "hidden"),
            Field(f"changes.{i}.comment", f"{row.indicator}: {row.improvement_required}", "textarea", optional=True),
        )
    )
    return [Group("Requested changes", (Field("requested_on", "Date requested", "date"),)),
            Group("Comments per indicator", rows, name="changes",
                  hint="Comment on each row that needs changing; leave the others blank.")]


def _changes_initial(case: Case | None, actor: Actor, today: date) -> Values:
    assert case is not None
    indicators = {f"changes.{i}.indicator": row.indicator for i, row in enumerate(case.plan)}
    return {"requested_on": today.isoformat()} | indicators


def _changes_body(values: Values, case: Case | None) -> tuple[dict[str, Any], dict[str, str]]:
    assert case is not None
    rows, renames = [], {}
    for i in range(len(case.plan)):
        comment = values.get(f"changes.{i}.comment", "")
        if comment.strip():
            renames[f"changes.{len(rows)}"] = f"changes.{i}"
            rows.append({"indicator": values.get(f"changes.{i}.indicator", ""), "comment": comment})
    return {"requested_on": values.get("requested_on", ""), "changes": rows}, renames


def one_date(name: str, words: str) -> tuple[Any, Any, Any]:
    """layout, initial values and body of a form that is one date."""
    return (lambda case, values: [Group(words, (Field(name, words, "date"),))],
            lambda case, actor, today: {name: today.isoformat()},
            lambda values, case: ({name: values.get(name, "")}, {}))


OPEN_CASE = FormSpec(
    Action.OPEN_CASE, "new", "Record a site visit", "Open a case from the site visit and its On-site Report.",
    b.OpenCaseIn, _open_layout, _open_initial, _open_body, command=lambda body, case, values: body.command(),
    submit="Open the case",
)
PLAN_FORMS = (
    FormSpec(Action.SUBMIT_PLAN, "plan", "Improvement action plan received",
             "Key in the signed plan as received by post: one row per unmet indicator.",
             b.PlanIn, _plan_layout, _plan_initial, _plan_body, submit="Record the plan"),
    FormSpec(Action.APPROVE_PLAN, "plan/approval", "Approve the plan",
             "Approving starts the organisation's eight weeks to carry out the improvements.",
             b.ApprovalIn, *one_date("approved_on", "Date approved"), submit="Approve the plan"),
    FormSpec(Action.REQUEST_CHANGES, "plan/changes", "Request changes to the plan",
             "Say which rows need changing and why; the organisation then sends a revised plan.",
             b.ChangesRequestedIn, _changes_layout, _changes_initial, _changes_body, submit="Request changes"),
)
