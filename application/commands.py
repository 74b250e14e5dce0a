"""One command per action of the process. Each knows which aggregate method it calls.

Commands hold domain values (built at the edge from checked input); the
``CommandContext`` says who acts, on which day, and under which guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from domain.case import Case
from domain.deadlines import DeadlinePolicy, Obligation
from domain.indicators import UnmetIndicator
from domain.participants import Actor, Organisation, Signatory
from domain.plans import EvidenceRow, IndicatorJudgement, PlanRow, RequestedChange


@dataclass(frozen=True)
class CommandContext:
    """Who acts, on which day, and the optional guards of the request."""

    actor: Actor
    today: date = field(default_factory=date.today)
    expected_version: int | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True)
class HoldSiteVisit:
    """Site visit held: opens a case from the On-site Report."""

    organisation: Organisation
    level: int
    visit_date: date
    lead_reviewer: str
    unmet_indicators: tuple[UnmetIndicator, ...]
    policy: DeadlinePolicy = field(default_factory=DeadlinePolicy)

    def open_case(self, ctx: CommandContext) -> Case:
        return Case.hold_site_visit(
            organisation=self.organisation, level=self.level, visit_date=self.visit_date,
            lead_reviewer=self.lead_reviewer, unmet_indicators=self.unmet_indicators,
            policy=self.policy, by=ctx.actor, today=ctx.today,
        )


@dataclass(frozen=True)
class SubmitPlan:
    case_id: UUID
    rows: tuple[PlanRow, ...]
    signed_by: Signatory
    signed_on: date
    received_on: date

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.submit_plan(self.rows, self.signed_by, signed_on=self.signed_on,
                         received_on=self.received_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class RequestChanges:
    case_id: UUID
    requested_on: date
    changes: tuple[RequestedChange, ...]

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.request_changes(self.changes, requested_on=self.requested_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class ApprovePlan:
    case_id: UUID
    approved_on: date

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.approve_plan(approved_on=self.approved_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class SubmitEvidence:
    case_id: UUID
    rows: tuple[EvidenceRow, ...]
    signed_by: Signatory
    signed_on: date
    received_on: date

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.submit_evidence(self.rows, self.signed_by, signed_on=self.signed_on,
                             received_on=self.received_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class RequestFurtherDetails:
    case_id: UUID
    requested_on: date
    request: str

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.request_further_details(self.request, requested_on=self.requested_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class ProvideFurtherDetails:
    case_id: UUID
    received_on: date
    details: str

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.provide_further_details(self.details, received_on=self.received_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class JudgeEvidence:
    case_id: UUID
    judged_on: date
    judgements: tuple[IndicatorJudgement, ...]
    report: str

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.judge_evidence(self.judgements, self.report, judged_on=self.judged_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class RecordEvidenceDeadlineMissed:
    case_id: UUID
    on: date

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.record_evidence_deadline_missed(on=self.on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class AwardQualityMark:
    case_id: UUID
    awarded_on: date

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.award_quality_mark(awarded_on=self.awarded_on, by=ctx.actor, today=ctx.today)


@dataclass(frozen=True)
class ExtendDeadline:
    case_id: UUID
    obligation: Obligation
    new_due_on: date
    reason: str

    def apply_to(self, case: Case, ctx: CommandContext) -> None:
        case.extend_deadline(self.obligation, to=self.new_due_on, reason=self.reason, by=ctx.actor, today=ctx.today)


CaseCommand = (
    SubmitPlan | RequestChanges | ApprovePlan | SubmitEvidence | RequestFurtherDetails
    | ProvideFurtherDetails | JudgeEvidence | RecordEvidenceDeadlineMissed | AwardQualityMark
    | ExtendDeadline
)
