"""Who may do what to which case: the role and ownership matrix of api-v1.md, as one table.

Anything not in ``RULES`` is refused. A rule names, per role, whether the role may act
on any case or only on its own: an organisation on its own cases (principal =
organisation id), a lead reviewer on the cases they lead (principal = reviewer id).
Opening a case is checked against the command, which names both parties too, so a
lead reviewer may open a case only with themselves as its lead reviewer.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Protocol

from application.errors import NotAllowed
from domain.participants import Actor, Role


class Action(StrEnum):
    """Everything a caller can ask of the service."""

    OPEN_CASE = "open_case"
    SUBMIT_PLAN = "submit_plan"
    REQUEST_CHANGES = "request_changes"
    APPROVE_PLAN = "approve_plan"
    SUBMIT_EVIDENCE = "submit_evidence"
    REQUEST_FURTHER_DETAILS = "request_further_details"
    PROVIDE_FURTHER_DETAILS = "provide_further_details"
    JUDGE_EVIDENCE = "judge_evidence"
    AWARD_QUALITY_MARK = "award_quality_mark"
    EXTEND_DEADLINE = "extend_deadline"
    READ_CASE = "read_case"
    READ_HISTORY = "read_history"
    READ_OVERDUE = "read_overdue"
    READ_UPCOMING = "read_upcoming"


class Scope(Enum):
    """Which cases a role may act on for one action."""

    ANY = "any case"
    OWN_ORGANISATION = "its own organisation's cases"
    LED = "cases they lead as lead reviewer"
    NO_CASE = "no case involved (read models only)"


class Parties(Protocol):
    """What ownership is decided on: a ``Case``, or a ``HoldSiteVisit`` command opening one."""

    @property
    def organisation(self) -> _HasId: ...

    @property
    def lead_reviewer(self) -> str: ...


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


A, R, S = Action, Role, Scope
# domain.md: the CES administrator opens cases and keys in post received on an
# organisation's behalf, grants extensions and records the award; the lead reviewer's
# decisions (changes, approval, further details, judgement) are theirs alone, so the
# administrator cannot take them (api-v1.md: "the case's lead_reviewer").
RULES: dict[Action, dict[Role, Scope]] = {
    A.OPEN_CASE: {R.ADMIN: S.ANY, R.LEAD_REVIEWER: S.LED},
    A.SUBMIT_PLAN: {R.ADMIN: S.ANY, R.ORGANISATION: S.OWN_ORGANISATION},
    A.REQUEST_CHANGES: {R.LEAD_REVIEWER: S.LED},
    A.APPROVE_PLAN: {R.LEAD_REVIEWER: S.LED},
    A.SUBMIT_EVIDENCE: {R.ADMIN: S.ANY, R.ORGANISATION: S.OWN_ORGANISATION},
    A.REQUEST_FURTHER_DETAILS: {R.LEAD_REVIEWER: S.LED},
    A.PROVIDE_FURTHER_DETAILS: {R.ADMIN: S.ANY, R.ORGANISATION: S.OWN_ORGANISATION},
    A.JUDGE_EVIDENCE: {R.LEAD_REVIEWER: S.LED},
    A.AWARD_QUALITY_MARK: {R.ADMIN: S.ANY},
    A.EXTEND_DEADLINE: {R.ADMIN: S.ANY},
    A.READ_CASE: {
        R.ADMIN: S.ANY, R.AUDITOR: S.ANY,
        R.ORGANISATION: S.OWN_ORGANISATION, R.LEAD_REVIEWER: S.LED,
    },
    A.READ_HISTORY: {R.ADMIN: S.ANY, R.AUDITOR: S.ANY},
    A.READ_OVERDUE: {R.ADMIN: S.NO_CASE, R.AUDITOR: S.NO_CASE, R.REPORTING: S.NO_CASE},
    A.READ_UPCOMING: {R.ADMIN: S.NO_CASE, R.AUDITOR: S.NO_CASE, R.REPORTING: S.NO_CASE},
}


def roles_allowed(action: Action) -> frozenset[Role]:
    """The roles that may take ``action`` on at least some case."""
    return frozenset(RULES.get(action, {}))


def check_role(actor: Actor, action: Action) -> None:
    """Refuse at once a role that may never take ``action``, before any case is loaded."""
    if actor.role not in RULES.get(action, {}):
        raise NotAllowed(f"The {actor.role.value} role may not {_words(action)}.")


def check_allowed(actor: Actor, action: Action, case: Parties | None = None) -> None:
    """Raise NotAllowed unless ``actor`` may take ``action`` on ``case``.

    ``case`` is the case acted on (or the command opening it); ``None`` only for
    actions that involve no case. Whatever the table does not allow is refused.
    """
    check_role(actor, action)
    scope = RULES[action][actor.role]
    if scope in (Scope.ANY, Scope.NO_CASE):
        return
    if case is not None and _owns(actor, scope, case):
        return
    raise NotAllowed(f"{actor.principal} may {_words(action)} only on {scope.value}.")


def _owns(actor: Actor, scope: Scope, case: Parties) -> bool:
    if scope is Scope.OWN_ORGANISATION:
        return case.organisation.id == actor.principal
    return scope is Scope.LED and case.lead_reviewer == actor.principal


def _words(action: Action) -> str:
    return action.value.replace("_", " ")
