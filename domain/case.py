"""The improvement case: one organisation's assessment at one PQASSO level.

Every public method checks the rules of the CES guidance (order of actions,
coverage of the unmet indicators, dates, deadlines) and only then triggers an
event, so a refused command records nothing. Each event applies itself and
says what it does to the case's deadlines.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.deadlines import Deadline, DeadlineChanges, DeadlinePolicy, Obligation, open_deadline
from domain.errors import (
    ActionOutOfOrder,
    CaseEnded,
    DeadlineNotOpen,
    DeadlineNotPassed,
    EvidenceOverdue,
    InvalidDate,
    InvalidInput,
)
from domain.indicators import UnmetIndicator, check_covers_exactly, indicator_code
from domain.participants import Actor, Organisation, Signatory
from domain.plans import EvidenceRow, IndicatorJudgement, PlanRow, RequestedChange
from domain.status import Outcome, Recommendation, Status
from domain.texts import IDENTIFIER_MAX, REPORT_MAX, TEXT_MAX, required_text


class Case(Aggregate):
    """An organisation's journey from site visit to Quality Mark (or not)."""

    class SiteVisitHeld(Aggregate.Created):
        """The peer review visit took place; the On-site Report lists the unmet indicators."""

        organisation: Organisation
        level: int
        visit_date: date
        lead_reviewer: str
        unmet_indicators: tuple[UnmetIndicator, ...]
        policy: DeadlinePolicy
        plan_due_on: date | None
        actor: Actor

        def deadline_changes(self) -> DeadlineChanges:
            opened = ((Obligation.PLAN_SUBMISSION, self.plan_due_on),) if self.plan_due_on else ()
            return DeadlineChanges(on=self.visit_date, opened=opened)

    @event(SiteVisitHeld)
    def __init__(
        self, *, organisation: Organisation, level: int, visit_date: date, lead_reviewer: str,
        unmet_indicators: tuple[UnmetIndicator, ...], policy: DeadlinePolicy,
        plan_due_on: date | None, actor: Actor,
    ) -> None:
        self.organisation, self.level, self.lead_reviewer = organisation, level, lead_reviewer
        self.visit_date, self.policy = visit_date, policy
        self.unmet_indicators = tuple(unmet_indicators)
        self.last_activity_on = visit_date
        # The library makes every nested event a subclass of Case.Event, whose apply()
        # runs after __init__ and opens the plan submission deadline.
        self.deadlines: tuple[Deadline, ...] = ()
        self.status = Status.AWAITING_PLAN if self.unmet_indicators else Status.RECOMMENDED
        self.outcome: Outcome | None = None
        if not self.unmet_indicators:
            # domain.md: with no unmet indicator the case is closed as recommended at once.
            self.outcome = Outcome(Recommendation.RECOMMENDED, visit_date, "No indicator was unmet at the site visit.")
        self.plan: tuple[PlanRow, ...] = ()
        self.plan_signed_by: Signatory | None = None
        self.plan_submissions = 0
        self.requested_changes: tuple[RequestedChange, ...] = ()
        self.evidence: tuple[EvidenceRow, ...] = ()
        self.evidence_signed_by: Signatory | None = None
        self.further_details: tuple[tuple[str, str | None], ...] = ()
        self.judgements: tuple[IndicatorJudgement, ...] = ()
        self.report: str | None = None
        self.awarded_on: date | None = None

    class Event(Aggregate.Event):
        """Base of the case's events after the site visit: each applies itself."""

        actor: Actor

        def apply(self, case: Case) -> None:
            changes = self.deadline_changes()
            case.deadlines = changes.applied_to(case.deadlines)
            case.last_activity_on = max(case.last_activity_on, changes.on)
            self.update(case)

        def deadline_changes(self) -> DeadlineChanges:
            raise NotImplementedError

        def update(self, case: Case) -> None:
            """Assign the event's facts to the case (no checks: events are facts)."""

    class PlanSubmitted(Event):
        """The organisation's improvement action plan reached the lead reviewer (by post)."""

        rows: tuple[PlanRow, ...]
        signed_by: Signatory
        signed_on: date
        received_on: date
        review_due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(
                on=self.received_on,
                met=(Obligation.PLAN_SUBMISSION, Obligation.PLAN_RESUBMISSION),
                opened=((Obligation.PLAN_REVIEW, self.review_due_on),),
            )

        def update(self, case: Case) -> None:
            case.plan, case.plan_signed_by = tuple(self.rows), self.signed_by
            case.plan_submissions += 1
            case.status = Status.PLAN_UNDER_REVIEW

    class ChangesRequested(Event):
        """The lead reviewer asked for changes to the plan, with a comment per indicator."""

        requested_on: date
        changes: tuple[RequestedChange, ...]
        resubmission_due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(
                on=self.requested_on, met=(Obligation.PLAN_REVIEW,),
                opened=((Obligation.PLAN_RESUBMISSION, self.resubmission_due_on),),
            )

        def update(self, case: Case) -> None:
            case.requested_changes = tuple(self.changes)
            case.status = Status.CHANGES_REQUESTED

    class PlanApproved(Event):
        """The lead reviewer approved the plan: the organisation has 8 weeks to act."""

        approved_on: date
        evidence_due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(
                on=self.approved_on, met=(Obligation.PLAN_REVIEW,),
                opened=((Obligation.EVIDENCE_SUBMISSION, self.evidence_due_on),),
            )

        def update(self, case: Case) -> None:
            case.status = Status.AWAITING_EVIDENCE

    class EvidenceSubmitted(Event):
        """The signed plan with action undertaken and evidence per indicator reached the lead reviewer."""

        rows: tuple[EvidenceRow, ...]
        signed_by: Signatory
        signed_on: date
        received_on: date
        judgement_due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(
                on=self.received_on, met=(Obligation.EVIDENCE_SUBMISSION,),
                opened=((Obligation.EVIDENCE_JUDGEMENT, self.judgement_due_on),),
            )

        def update(self, case: Case) -> None:
            case.evidence, case.evidence_signed_by = tuple(self.rows), self.signed_by
            case.status = Status.EVIDENCE_UNDER_REVIEW

    class FurtherDetailsRequested(Event):
        """The lead reviewer asked for further details while checking the evidence."""

        requested_on: date
        request: str
        details_due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            # The reviewer has answered within their window by asking; their two weeks
            # restart when the details arrive (domain.md, "judge the evidence").
            return DeadlineChanges(
                on=self.requested_on, met=(Obligation.EVIDENCE_JUDGEMENT,),
                opened=((Obligation.FURTHER_DETAILS, self.details_due_on),),
            )

        def update(self, case: Case) -> None:
            case.further_details += ((self.request, None),)
            case.status = Status.AWAITING_FURTHER_DETAILS

    class FurtherDetailsProvided(Event):
        """The organisation answered the lead reviewer's request for further details."""

        received_on: date
        details: str
        judgement_due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(
                on=self.received_on, met=(Obligation.FURTHER_DETAILS,),
                opened=((Obligation.EVIDENCE_JUDGEMENT, self.judgement_due_on),),
            )

        def update(self, case: Case) -> None:
            request, _ = case.further_details[-1]
            case.further_details = case.further_details[:-1] + ((request, self.details),)
            case.status = Status.EVIDENCE_UNDER_REVIEW

    class EvidenceJudged(Event):
        """The lead reviewer judged each indicator and wrote the report on the improvement actions."""

        judged_on: date
        judgements: tuple[IndicatorJudgement, ...]
        report: str
        recommendation: Recommendation
        gaps: tuple[str, ...]

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(
                on=self.judged_on, met=(Obligation.EVIDENCE_JUDGEMENT,),
                withdrawn=(Obligation.FURTHER_DETAILS,),
            )

        def update(self, case: Case) -> None:
            case.judgements, case.report = tuple(self.judgements), self.report
            recommended = self.recommendation is Recommendation.RECOMMENDED
            case.status = Status.RECOMMENDED if recommended else Status.NOT_RECOMMENDED
            reason = (
                "Every indicator is now met." if recommended
                else "The evidence leaves gaps: " + ", ".join(self.gaps) + " still not met."
            )
            case.outcome = Outcome(self.recommendation, self.judged_on, reason, tuple(self.gaps))

    class EvidenceDeadlineMissed(Event):
        """No evidence arrived by its due date: the organisation will not be recommended."""

        noticed_on: date
        due_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(on=self.noticed_on, missed=(Obligation.EVIDENCE_SUBMISSION,))

        def update(self, case: Case) -> None:
            case.status = Status.NOT_RECOMMENDED
            case.outcome = Outcome(
                Recommendation.NOT_RECOMMENDED, self.noticed_on,
                f"No evidence was received by its due date, {self.due_on.isoformat()}.",
                tuple(row.indicator for row in case.unmet_indicators),
            )

    class QualityMarkAwarded(Event):
        """CES awarded the PQASSO Quality Mark on the lead reviewer's recommendation."""

        awarded_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(on=self.awarded_on)

        def update(self, case: Case) -> None:
            case.awarded_on = self.awarded_on
            case.status = Status.AWARDED

    class DeadlineExtended(Event):
        """A CES administrator moved one open deadline, with a reason."""

        obligation: Obligation
        previous_due_on: date
        new_due_on: date
        reason: str
        extended_on: date

        def deadline_changes(self) -> DeadlineChanges:
            return DeadlineChanges(on=self.extended_on, extended=(self.obligation, self.new_due_on))

        def apply(self, case: Case) -> None:
            # An administrator's decision about the process, not a step of it: the steps after
            # it may be dated before it. Post that was late when it arrived is recorded once the
            # deadline has been extended past its arrival, which is the point of extending.
            case.deadlines = self.deadline_changes().applied_to(case.deadlines)

    # ---- commands -------------------------------------------------------------------------

    @classmethod
    def hold_site_visit(
        cls, *, organisation: Organisation, level: int, visit_date: date, lead_reviewer: str,
        unmet_indicators: tuple[UnmetIndicator, ...], policy: DeadlinePolicy, by: Actor,
        today: date | None = None,
    ) -> Case:
        """Open a case from the site visit and its On-site Report."""
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 3:
            raise InvalidInput(f"The PQASSO level must be 1, 2 or 3, not {level!r}.", field="level")
        required_text(lead_reviewer, field="lead_reviewer", max_length=IDENTIFIER_MAX)
        _not_in_future("visit_date", visit_date, today)
        unmet = tuple(
            replace(row, indicator=indicator_code(
                row.indicator, case_level=level, field=f"unmet_indicators.{i}.indicator"),
                findings=required_text(row.findings, field=f"unmet_indicators.{i}.findings"))
            for i, row in enumerate(unmet_indicators)
        )
        check_covers_exactly([r.indicator for r in unmet], dict.fromkeys(r.indicator for r in unmet),
                             what="On-site Report", field="unmet_indicators")
        plan_due_on = policy.due(Obligation.PLAN_SUBMISSION, visit_date) if unmet else None
        return cls(organisation=organisation, level=level, visit_date=visit_date,
                   lead_reviewer=lead_reviewer, unmet_indicators=unmet, policy=policy,
                   plan_due_on=plan_due_on, actor=by)

    def submit_plan(
        self, rows: tuple[PlanRow, ...], signed_by: Signatory, *, signed_on: date,
        received_on: date, by: Actor, today: date | None = None,
    ) -> None:
        """Record the organisation's (first or revised) plan, received by post."""
        self._require(Status.AWAITING_PLAN, Status.CHANGES_REQUESTED, action="submit a plan")
        rows = self._rows_for_unmet(rows, what="improvement action plan")
        self._check_signed_and_received(signed_on, received_on, today)
        self.trigger_event(
            self.PlanSubmitted, rows=rows, signed_by=signed_by, signed_on=signed_on,
            received_on=received_on,
            review_due_on=self.policy.due(Obligation.PLAN_REVIEW, received_on), actor=by,
        )

    def request_changes(
        self, changes: tuple[RequestedChange, ...], *, requested_on: date, by: Actor,
        today: date | None = None,
    ) -> None:
        """The lead reviewer asks for changes to the plan (at least one indicator, each once)."""
        self._require(Status.PLAN_UNDER_REVIEW, action="request changes to the plan")
        changes = tuple(
            replace(c, indicator=indicator_code(c.indicator, case_level=self.level, field=f"changes.{i}.indicator"))
            for i, c in enumerate(changes)
        )
        codes = [c.indicator for c in changes]
        if not codes:
            raise InvalidInput("Say which indicator's row needs changing, with a comment.", field="changes")
        named = [code for code in self._unmet_codes() if code in codes]
        check_covers_exactly(codes, named, what="list of requested changes", field="changes")
        self._check_on_timeline("requested_on", requested_on, today)
        self.trigger_event(
            self.ChangesRequested, requested_on=requested_on, changes=changes,
            resubmission_due_on=self.policy.due(Obligation.PLAN_RESUBMISSION, requested_on), actor=by,
        )

    def approve_plan(self, *, approved_on: date, by: Actor, today: date | None = None) -> None:
        """The lead reviewer approves the plan; the evidence is due 8 weeks later."""
        self._require(Status.PLAN_UNDER_REVIEW, action="approve the plan")
        self._check_on_timeline("approved_on", approved_on, today)
        self.trigger_event(
            self.PlanApproved, approved_on=approved_on,
            evidence_due_on=self.policy.due(Obligation.EVIDENCE_SUBMISSION, approved_on), actor=by,
        )

    def submit_evidence(
        self, rows: tuple[EvidenceRow, ...], signed_by: Signatory, *, signed_on: date,
        received_on: date, by: Actor, today: date | None = None,
    ) -> None:
        """Record the evidence of the improvement actions, refused once its due date has passed."""
        self._require(Status.AWAITING_EVIDENCE, action="submit evidence")
        rows = self._rows_for_unmet(rows, what="evidence")
        self._check_signed_and_received(signed_on, received_on, today)
        due = open_deadline(self.deadlines, Obligation.EVIDENCE_SUBMISSION)
        if due is not None and received_on > due.due_on:
            raise EvidenceOverdue(
                f"The evidence was due by {due.due_on.isoformat()} and was received on "
                f"{received_on.isoformat()}: it cannot be accepted. Unless an administrator extends "
                "the deadline, the case lapses as not recommended.",
                due_on=due.due_on, received_on=received_on,
            )
        self.trigger_event(
            self.EvidenceSubmitted, rows=rows, signed_by=signed_by, signed_on=signed_on,
            received_on=received_on,
            judgement_due_on=self.policy.due(Obligation.EVIDENCE_JUDGEMENT, received_on), actor=by,
        )

    def request_further_details(
        self, request: str, *, requested_on: date, by: Actor, today: date | None = None
    ) -> None:
        """Guidance: "the lead reviewer may ask you for any further details if anything is unclear"."""
        self._require(Status.EVIDENCE_UNDER_REVIEW, action="ask for further details")
        required_text(request, field="request", max_length=TEXT_MAX)
        self._check_on_timeline("requested_on", requested_on, today)
        self.trigger_event(
            self.FurtherDetailsRequested, requested_on=requested_on, request=request,
            details_due_on=self.policy.due(Obligation.FURTHER_DETAILS, requested_on), actor=by,
        )

    def provide_further_details(
        self, details: str, *, received_on: date, by: Actor, today: date | None = None
    ) -> None:
        """Record the organisation's answer; the lead reviewer's two weeks start again."""
        self._require(Status.AWAITING_FURTHER_DETAILS, action="record further details")
        required_text(details, field="details", max_length=TEXT_MAX)
        self._check_on_timeline("received_on", received_on, today)
        self.trigger_event(
            self.FurtherDetailsProvided, received_on=received_on, details=details,
            judgement_due_on=self.policy.due(Obligation.EVIDENCE_JUDGEMENT, received_on), actor=by,
        )

    def judge_evidence(
        self, judgements: tuple[IndicatorJudgement, ...], report: str, *, judged_on: date,
        by: Actor, today: date | None = None,
    ) -> None:
        """Judge every unmet indicator met or not; recommended only when all are met."""
        self._require(
            Status.EVIDENCE_UNDER_REVIEW, Status.AWAITING_FURTHER_DETAILS, action="judge the evidence"
        )
        judgements = self._rows_for_unmet(judgements, what="judgement", field="indicators")
        required_text(report, field="report", max_length=REPORT_MAX)
        self._check_on_timeline("judged_on", judged_on, today)
        gaps = tuple(j.indicator for j in judgements if not j.met)
        recommendation = Recommendation.NOT_RECOMMENDED if gaps else Recommendation.RECOMMENDED
        self.trigger_event(
            self.EvidenceJudged, judged_on=judged_on, judgements=judgements, report=report,
            recommendation=recommendation, gaps=gaps, actor=by,
        )

    def record_evidence_deadline_missed(self, *, on: date, by: Actor, today: date | None = None) -> None:
        """The deadline job: no evidence by the due date, so the case ends not recommended. Only
        a day that has come: a deadline is not missed in advance."""
        self._require(Status.AWAITING_EVIDENCE, action="record the evidence deadline as missed")
        self._check_on_timeline("on", on, today)
        due = open_deadline(self.deadlines, Obligation.EVIDENCE_SUBMISSION)
        assert due is not None  # awaiting evidence always has the obligation open
        if on <= due.due_on:
            raise DeadlineNotPassed(
                f"The evidence is due by {due.due_on.isoformat()}; on {on.isoformat()} it is not yet missed.",
                field="on",
            )
        self.trigger_event(self.EvidenceDeadlineMissed, noticed_on=on, due_on=due.due_on, actor=by)

    def award_quality_mark(self, *, awarded_on: date, by: Actor, today: date | None = None) -> None:
        """CES's decision on a recommendation."""
        self._require(Status.RECOMMENDED, action="award the Quality Mark")
        self._check_on_timeline("awarded_on", awarded_on, today)
        self.trigger_event(self.QualityMarkAwarded, awarded_on=awarded_on, actor=by)

    def extend_deadline(
        self, obligation: Obligation, *, to: date, reason: str, by: Actor, today: date,
    ) -> None:
        """A CES administrator moves one open deadline later, saying why."""
        self._require_not_ended(action="extend a deadline")
        required_text(reason, field="reason", max_length=TEXT_MAX)
        _not_in_future("new_due_on", to, None)
        _not_in_future("today", today, None)
        current = open_deadline(self.deadlines, obligation)
        if current is None:
            raise DeadlineNotOpen(
                f"This case has no open {obligation.value.replace('_', ' ')} deadline to extend.",
                field="obligation",
            )
        if to <= current.due_on:
            raise InvalidDate(
                f"An extension must move the deadline later than {current.due_on.isoformat()}.",
                field="new_due_on",
            )
        if to < today:
            raise InvalidDate(
                f"An extension to {to.isoformat()} would already have passed today ({today.isoformat()}).",
                field="new_due_on",
            )
        self.trigger_event(
            self.DeadlineExtended, obligation=obligation, previous_due_on=current.due_on,
            new_due_on=to, reason=reason, extended_on=max(today, self.last_activity_on), actor=by,
        )

    # ---- rules shared by the commands ---------------------------------------------------------

    def _require(self, *allowed: Status, action: str) -> None:
        self._require_not_ended(action=action)
        if self.status not in allowed:
            raise ActionOutOfOrder(
                f"Cannot {action}: this case {self.status.description}.",
                case_id=self.id, status=self.status.value,
            )

    def _require_not_ended(self, *, action: str) -> None:
        if self.status.has_ended:
            raise CaseEnded(
                f"Cannot {action}: this case {self.status.description}.",
                case_id=self.id, status=self.status.value,
            )

    def _unmet_codes(self) -> list[str]:
        return [row.indicator for row in self.unmet_indicators]

    def _rows_for_unmet(self, rows: tuple[Any, ...], *, what: str, field: str = "rows") -> tuple[Any, ...]:
        rows = tuple(
            replace(r, indicator=indicator_code(r.indicator, case_level=self.level, field=f"{field}.{i}.indicator"))
            for i, r in enumerate(rows)
        )
        check_covers_exactly([r.indicator for r in rows], self._unmet_codes(), what=what, field=field)
        return rows

    def _check_signed_and_received(self, signed_on: date, received_on: date, today: date | None) -> None:
        _not_in_future("signed_on", signed_on, None)
        _not_in_future("received_on", received_on, None)
        if signed_on < self.visit_date:
            raise InvalidDate(
                f"It was signed on {signed_on.isoformat()}, before the site visit on {self.visit_date.isoformat()}.",
                field="signed_on",
            )
        if received_on < signed_on:
            raise InvalidDate(
                f"It was received on {received_on.isoformat()}, before it was signed on {signed_on.isoformat()}.",
                field="received_on",
            )
        self._check_on_timeline("received_on", received_on, today)

    def _check_on_timeline(self, field: str, day: date, today: date | None) -> None:
        _not_in_future(field, day, None)  # a calendar date, before comparing it
        if day < self.last_activity_on:
            raise InvalidDate(
                f"{field} {day.isoformat()} is before the case's last recorded step on "
                f"{self.last_activity_on.isoformat()}: steps are recorded in the order they happened.",
                field=field,
            )
        _not_in_future(field, day, today)


def _not_in_future(field: str, day: date, today: date | None) -> None:
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InvalidDate(f"{field} must be a calendar date.", field=field)
    if today is not None and day > today:
        raise InvalidDate(f"{field} {day.isoformat()} is in the future.", field=field)
