"""Realistic cases, made by running the domain's own commands on cases in memory.

Each case starts with a site visit on a day in the last ``span_days`` and follows the process
(plan, changes requested, approval, evidence, further details, judgement, award) with
plausible delays: most steps on time, some late, a few deadlines extended, some evidence never
sent (the deadline job then records the missed deadline). Steps that would fall after
``today`` are not taken, so recent cases stop part-way: the store ends up with cases in every
state, old ones mostly finished, and some obligations overdue today, as in the real service.
Every event is one the domain really produced (its rules checked), with its business date.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from domain.case import Case
from domain.deadlines import DeadlinePolicy, Obligation
from domain.indicators import UnmetIndicator
from domain.participants import Actor, Organisation, Role, Signatory, SignatoryPosition
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement, PlanRow, RequestedChange

ADMIN = Actor("ces-admin-1", Role.ADMIN)
DEADLINE_JOB = Actor("deadline-job", Role.SYSTEM)
POLICY = DeadlinePolicy()
REVIEWERS = 250
Dated = tuple[date, Case.Event]

_FINDINGS = (
    "There is no documented complaints procedure.", "Employers' liability insurance is out of date.",
    "Trustees have not reviewed the governing document for three years.",
    "Budgets are not monitored against actual spending each month.",
    "Some staff do not receive annual appraisals; supervision notes are not kept.",
    "Outcomes for service users are not recorded consistently across projects.",
    "The website and leaflets describe services that have since closed.",
    "Volunteers are not given a written role description or induction.",
    "Risks are discussed at board meetings but there is no risk register.",
)
_IMPROVEMENTS = (
    "Develop a procedure, have the board approve it and tell staff and users about it.",
    "Examine our present system for identifying legal requirements and set up a process to "
    "ensure these legal requirements are met.",
    "Agree a timetable for reviews and record decisions in the minutes.",
    "Introduce monthly management accounts reported to the finance sub-committee.",
    "Put in place a cycle of supervision and annual appraisal for every member of staff.",
)
_ACTIONS = (
    "Procedure written, approved by the trustees on the date shown and circulated to staff.",
    "Previously unmet requirements have been put into place. Relevant people have been "
    "informed. An ongoing process ensures requirements are kept up to date.",
    "The board reviewed the document and minuted its decisions; the next review is booked.",
    "Monthly accounts now go to the finance sub-committee, which reports to the board.",
)
_EVIDENCE = ("Board minutes", "Signed procedure", "Copy of the certificate", "Appraisal schedule",
             "Management accounts for the last quarter", "Risk register", "Role descriptions")
_WORDS = ("Riverside", "Hillside", "Meadow", "Castle Gate", "Brook Street", "Oakfield", "Lantern",
          "Northgate", "Harbour", "Elm Tree", "Greenway", "St Anne's", "Millbank", "Westfield")
_KINDS = ("Community Trust", "Advice Centre", "Youth Project", "Carers Network", "Food Bank",
          "Counselling Service", "Lunch Club", "Literacy Trust", "Housing Association")


def simulate_case(index: int, today: date, span_days: int, seed: int = 0) -> list[Dated]:
    """The events of case number ``index``, each with the day it happened (same seed, same case)."""
    rng = random.Random(seed * 1_000_003 + index)
    return _Journey(rng, index, today, span_days).run()


class _Journey:
    def __init__(self, rng: random.Random, index: int, today: date, span_days: int) -> None:
        self.rng, self.today = rng, today
        level = rng.choice((1, 2, 2, 3))
        self.organisation = Organisation(f"org-{index}", f"{rng.choice(_WORDS)} {rng.choice(_KINDS)}")
        self.org = Actor(self.organisation.id, Role.ORGANISATION)
        reviewer = f"reviewer-{rng.randrange(REVIEWERS)}"
        self.reviewer = Actor(reviewer, Role.LEAD_REVIEWER)
        self.signatory = Signatory(rng.choice(("J Smith", "A Patel", "M Jones", "R Okafor")),
                                   rng.choice(tuple(SignatoryPosition)))
        self.visit = today - timedelta(days=rng.randrange(span_days))
        self.unmet = _unmet_indicators(rng, level)
        self.case = Case.hold_site_visit(
            organisation=self.organisation, level=level, visit_date=self.visit,
            lead_reviewer=reviewer, unmet_indicators=self.unmet, policy=POLICY, by=ADMIN)
        self.days = [self.visit]

    def run(self) -> list[Dated]:
        if self.unmet:
            self._to_judgement()
        elif (award := self.visit + timedelta(days=self.rng.randint(7, 40))) <= self.today:
            self._do(award, lambda: self.case.award_quality_mark(awarded_on=award, by=ADMIN))
        return list(zip(self.days, self.case.collect_events(), strict=True))

    def _do(self, day: date, command: Callable[[], None]) -> None:
        command()
        self.days.append(day)

    def _when(self, start: date, allowed: int, late: float) -> date:
        """On time (a day within ``allowed`` days of ``start``), or with probability ``late``
        some days after the due date."""
        if self.rng.random() < late:
            return start + timedelta(days=allowed + 1 + int(self.rng.expovariate(1 / 12)))
        return start + timedelta(days=self.rng.randint(1, allowed))

    def _to_judgement(self) -> None:
        received = self._plan(self.visit, POLICY.plan_submission_days, Obligation.PLAN_SUBMISSION)
        if received is None or (approved := self._reviews(received)) is None:
            return
        evidence = self._evidence(approved)
        if evidence is None:
            return
        judged = self._when(evidence, POLICY.evidence_judgement_days, 0.12)
        if self.rng.random() < 0.3 and judged <= self.today:
            self._do(judged, lambda: self.case.request_further_details(
                "Please send the minutes that approved the new procedure.", requested_on=judged,
                by=self.reviewer))
            details = self._when(judged, POLICY.further_details_days, 0.15)
            if details > self.today:
                return
            self._do(details, lambda: self.case.provide_further_details(
                "Minutes of the board meeting enclosed.", received_on=details, by=self.org))
            judged = self._when(details, POLICY.evidence_judgement_days, 0.12)
        if judged <= self.today:
            self._judge(judged)

    def _plan(self, start: date, allowed: int, obligation: Obligation) -> date | None:
        """The organisation sends its (first or revised) plan, late now and then; an
        administrator extends the deadline for some of the late ones."""
        due = start + timedelta(days=allowed)
        received = self._when(start, allowed, 0.15)
        if received > due and self.rng.random() < 0.3:
            self._extend(obligation, due, due + timedelta(days=14), "The chief executive was on leave.")
        if received > self.today:
            return None
        signed = max(self.visit, received - timedelta(days=self.rng.randint(0, 3)))
        rows = tuple(PlanRow(u.indicator, u.findings, self.rng.choice(_IMPROVEMENTS)) for u in self.unmet)
        self._do(received, lambda: self.case.submit_plan(
            rows, self.signatory, signed_on=signed, received_on=received, by=self.org))
        return received

    def _reviews(self, received: date) -> date | None:
        """The lead reviewer asks for changes (up to three times), then approves."""
        for _ in range(3):
            review = self._when(received, POLICY.plan_review_days, 0.1)
            if review > self.today:
                return None
            if self.rng.random() >= 0.45:
                break
            named = self.rng.sample(self.unmet, self.rng.randint(1, len(self.unmet)))
            changes = tuple(RequestedChange(u.indicator, "Say who will do this, and by when.")
                            for u in sorted(named, key=self.unmet.index))
            self._do(review, lambda r=review, c=changes: self.case.request_changes(
                c, requested_on=r, by=self.reviewer))
            resubmitted = self._plan(review, POLICY.plan_resubmission_days, Obligation.PLAN_RESUBMISSION)
            if resubmitted is None:
                return None
            received = resubmitted
        else:
            review = self._when(received, POLICY.plan_review_days, 0.1)
            if review > self.today:
                return None
        self._do(review, lambda: self.case.approve_plan(approved_on=review, by=self.reviewer))
        return review

    def _evidence(self, approved: date) -> date | None:
        """Evidence within 8 weeks (or an extension); else the deadline job lapses the case."""
        due = approved + timedelta(days=POLICY.evidence_submission_days)
        sent = self._when(approved, POLICY.evidence_submission_days, 0.08)
        if sent > due and self.rng.random() < 0.4:
            extended = self._extend(Obligation.EVIDENCE_SUBMISSION, due, due + timedelta(days=28),
                                    "Illness in a small staff team.")
            due = extended or due
        if sent > due:
            missed = due + timedelta(days=1)
            if missed <= self.today:
                self._do(missed, lambda: self.case.record_evidence_deadline_missed(on=missed, by=DEADLINE_JOB))
            return None
        if sent > self.today:
            return None
        signed = max(self.visit, sent - timedelta(days=self.rng.randint(0, 3)))
        rows = tuple(EvidenceRow(u.indicator, self.rng.choice(_ACTIONS), tuple(
            EvidenceItem(title) for title in self.rng.sample(_EVIDENCE, self.rng.randint(1, 3))))
            for u in self.unmet)
        self._do(sent, lambda: self.case.submit_evidence(
            rows, self.signatory, signed_on=signed, received_on=sent, by=self.org))
        return sent

    def _extend(self, obligation: Obligation, due: date, to: date, reason: str) -> date | None:
        """An administrator moves ``due`` to ``to`` a few days before it passes (if by today)."""
        asked = max(due - timedelta(days=self.rng.randint(0, 3)), self.case.last_activity_on)
        if asked > self.today:
            return None
        self._do(asked, lambda: self.case.extend_deadline(
            obligation, to=to, reason=reason, by=ADMIN, today=asked))
        return to

    def _judge(self, day: date) -> None:
        met_all = self.rng.random() < 0.85
        gap = None if met_all else self.rng.choice(self.unmet).indicator
        judgements = tuple(IndicatorJudgement(
            u.indicator, u.indicator != gap,
            "The evidence shows this is now met." if u.indicator != gap else "Still a gap.")
            for u in self.unmet)
        report = ("Report on the improvement actions. " + " ".join(
            f"{u.indicator}: {self.rng.choice(_ACTIONS)}" for u in self.unmet))
        self._do(day, lambda: self.case.judge_evidence(judgements, report, judged_on=day, by=self.reviewer))
        award = day + timedelta(days=self.rng.randint(7, 35))
        if met_all and award <= self.today:
            self._do(award, lambda: self.case.award_quality_mark(awarded_on=award, by=ADMIN))


def _unmet_indicators(rng: random.Random, level: int) -> tuple[UnmetIndicator, ...]:
    """None for 1 case in 20; else 1 to 6 distinct indicators at or below the case's level."""
    if rng.random() < 0.05:
        return ()
    codes: dict[str, None] = {}
    for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5, 6))):
        codes[f"{rng.randint(1, 12)}.{rng.randint(1, level)}.{rng.randint(1, 8)}"] = None
    return tuple(UnmetIndicator(code, rng.choice(_FINDINGS)) for code in codes)


def long_case(events: int, today: date) -> Case:
    """A case with ``events`` events (its pending events), most of them rounds of changes
    requested and plans resubmitted, one a day, ending before ``today``."""
    rng = random.Random(events)
    visit = today - timedelta(days=events + 30)
    unmet = _unmet_indicators(random.Random(7), 3) or (UnmetIndicator("4.2.7", _FINDINGS[0]),)
    case = Case.hold_site_visit(
        organisation=Organisation("org-long", "Long Haul Community Trust"), level=3,
        visit_date=visit, lead_reviewer="reviewer-1", unmet_indicators=unmet, policy=POLICY, by=ADMIN)
    reviewer = Actor("reviewer-1", Role.LEAD_REVIEWER)
    signatory = Signatory("J Smith", SignatoryPosition.CHIEF_EXECUTIVE)
    rows = tuple(PlanRow(u.indicator, u.findings, rng.choice(_IMPROVEMENTS)) for u in unmet)
    day = visit
    while case.version < events:
        day += timedelta(days=1)
        if case.status.value == "changes_requested" or case.version == 1:
            case.submit_plan(rows, signatory, signed_on=day, received_on=day, by=ADMIN)
        else:
            case.request_changes((RequestedChange(unmet[0].indicator, "Say who, and by when."),),
                                 requested_on=day, by=reviewer)
    return case
