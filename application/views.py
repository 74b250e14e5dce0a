"""Plain, JSON-ready pictures of a case and its history, shared by the CLI and the HTTP API."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from domain.case import Case

EVENT_BOOKKEEPING = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, enums to values, dates to ISO text, tuples to lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def case_state(case: Case) -> dict[str, Any]:
    """The case as the API and CLI show it (api-v1.md, "State")."""
    return {
        "case_id": str(case.id),
        "version": case.version,
        "organisation": to_jsonable(case.organisation),
        "level": case.level,
        "lead_reviewer": case.lead_reviewer,
        "visit_date": case.visit_date.isoformat(),
        "status": case.status.value,
        "unmet_indicators": to_jsonable(case.unmet_indicators),
        "deadlines": [
            {
                "obligation": d.obligation.value,
                "owed_by": d.owed_by.value,
                "opened_on": d.opened_on.isoformat(),
                "due_on": d.due_on.isoformat(),
                "met_on": d.met_on.isoformat() if d.met_on else None,
                "closed_on": d.closed_on.isoformat() if d.closed_on else None,
                "state": d.closure.value if d.closure else "open",
            }
            for d in case.deadlines
        ],
        "outcome": to_jsonable(case.outcome),
        "plan": {
            "rows": to_jsonable(case.plan),
            "signed_by": to_jsonable(case.plan_signed_by),
            "submissions": case.plan_submissions,
        } if case.plan else None,
        "requested_changes": to_jsonable(case.requested_changes),
        "evidence": {
            "rows": to_jsonable(case.evidence),
            "signed_by": to_jsonable(case.evidence_signed_by),
        } if case.evidence else None,
        "further_details": [
            {"request": request, "answer": answer} for request, answer in case.further_details
        ],
        "judgements": to_jsonable(case.judgements),
        "report": case.report,
        "awarded_on": case.awarded_on.isoformat() if case.awarded_on else None,
        "policy": to_jsonable(case.policy),
        "created_at": case.created_on.isoformat(),
        "modified_at": case.modified_on.isoformat(),
    }


def event_type(event: Any) -> str:
    return type(event).__name__


def event_data(event: Any) -> dict[str, Any]:
    return {
        name: to_jsonable(value)
        for name, value in vars(event).items()
        if name not in EVENT_BOOKKEEPING
    }


def history_item(event: Any) -> dict[str, Any]:
    """One event as an auditor reads it (api-v1.md, "History items")."""
    return {
        "version": event.originator_version,
        "type": event_type(event),
        "recorded_at": event.timestamp.isoformat(),
        "actor": to_jsonable(event.actor),
        "data": event_data(event),
    }
