"""What the case page shows: ``case_state`` (the same picture as the API), the plan laid out
as in the CES template, who signed it and when, and the actions the signed-in user may take."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from application.authorization import Action
from domain.case import Case
from domain.participants import Actor
from domain.status import Status
from infrastructure.web.dashboard import may
from infrastructure.web.labels import value_of

S = Status
# (action, form path under the case, button words, the statuses it fits). The domain has the
# last word on order: this only decides which buttons to offer.
CASE_ACTIONS: tuple[tuple[Action, str, str, frozenset[Status]], ...] = (
    (Action.SUBMIT_PLAN, "plan", "Record the improvement action plan",
     frozenset({S.AWAITING_PLAN, S.CHANGES_REQUESTED})),
    (Action.APPROVE_PLAN, "plan/approval", "Approve the plan", frozenset({S.PLAN_UNDER_REVIEW})),
    (Action.REQUEST_CHANGES, "plan/changes", "Request changes to the plan", frozenset({S.PLAN_UNDER_REVIEW})),
    (Action.SUBMIT_EVIDENCE, "evidence", "Record the evidence", frozenset({S.AWAITING_EVIDENCE})),
    (Action.REQUEST_FURTHER_DETAILS, "evidence/further-details-request", "Ask for further details",
     frozenset({S.EVIDENCE_UNDER_REVIEW})),
    (Action.PROVIDE_FURTHER_DETAILS, "evidence/further-details", "Record the further details",
     frozenset({S.AWAITING_FURTHER_DETAILS})),
    (Action.JUDGE_EVIDENCE, "evidence/judgement", "Judge the evidence",
     frozenset({S.EVIDENCE_UNDER_REVIEW, S.AWAITING_FURTHER_DETAILS})),
    (Action.AWARD_QUALITY_MARK, "award", "Award the Quality Mark", frozenset({S.RECOMMENDED})),
    (Action.EXTEND_DEADLINE, "extension", "Extend a deadline", frozenset(
        {S.AWAITING_PLAN, S.PLAN_UNDER_REVIEW, S.CHANGES_REQUESTED, S.AWAITING_EVIDENCE,
         S.EVIDENCE_UNDER_REVIEW, S.AWAITING_FURTHER_DETAILS})),
)


@dataclass(frozen=True)
class PlanLine:
    """One row of the improvement action plan, all five columns of the CES template."""

    indicator: str
    findings: str
    improvement_required: str = ""
    action_undertaken: str = ""
    evidence: tuple[str, ...] = ()
    requested_change: str = ""
    judgement: dict[str, Any] | None = None


@dataclass(frozen=True)
class Signature:
    """Who signed what the organisation sent, and when it was signed and received."""

    name: str
    position: str
    signed_on: str
    received_on: str


@dataclass(frozen=True)
class CaseView:
    """Everything the case page (and the plan's PDF) needs."""

    state: dict[str, Any]
    lines: tuple[PlanLine, ...]
    plan_signature: Signature | None = None
    evidence_signature: Signature | None = None
    actions: tuple[tuple[str, str], ...] = field(default=())


def plan_lines(state: dict[str, Any]) -> tuple[PlanLine, ...]:
    plan = {row["indicator"]: row for row in (state["plan"] or {}).get("rows", [])}
    evidence = {row["indicator"]: row for row in (state["evidence"] or {}).get("rows", [])}
    changes = {row["indicator"]: row["comment"] for row in state["requested_changes"]}
    judged = {row["indicator"]: row for row in state["judgements"]}
    lines = []
    for unmet in state["unmet_indicators"]:
        code = unmet["indicator"]
        row, done = plan.get(code, {}), evidence.get(code, {})
        lines.append(PlanLine(
            code, row.get("findings", unmet["findings"]), row.get("improvement_required", ""),
            done.get("action_undertaken", ""), tuple(item["title"] for item in done.get("evidence", [])),
            changes.get(code, ""), judged.get(code),
        ))
    return tuple(lines)


def signature(events: Sequence[Any], kind: type) -> Signature | None:
    """The signature on the latest ``kind`` event (PlanSubmitted, EvidenceSubmitted)."""
    latest = next((e for e in reversed(events) if isinstance(e, kind)), None)
    if latest is None:
        return None
    signed = latest.signed_by
    return Signature(signed.name, value_of(signed.position), latest.signed_on.isoformat(),
                     latest.received_on.isoformat())


def actions_for(actor: Actor, case: Case) -> tuple[tuple[str, str], ...]:
    """(words, path) of each form this user may use on this case at its stage."""
    return tuple(
        (words, f"/ui/cases/{case.id}/{path}") for action, path, words, statuses in CASE_ACTIONS
        if case.status in statuses and may(actor, action, case)
    )


def case_view(state: dict[str, Any], case: Case, events: Sequence[Any], actor: Actor | None) -> CaseView:
    """The page's view of ``case`` (``state`` is ``case_state(case)``; ``events`` up to its version)."""
    events = [e for e in events if e.originator_version <= case.version]
    return CaseView(
        state, plan_lines(state), signature(events, Case.PlanSubmitted), signature(events, Case.EvidenceSubmitted),
        actions_for(actor, case) if actor is not None else (),
    )
