"""Support for the projection tests: random valid histories, fresh databases, table dumps.

``CaseDriver`` keeps a set of live cases and moves a random one a random step on a
random later date (on time or late, with extensions, further details, lapses). Every
event therefore is one the domain really produces. ``projection_database()`` makes a
migrated database of its own (read models need clean tables; stored events cannot be
deleted). The test at the bottom checks the driver itself.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import psycopg

from application.cases import QualityMarkCases
from domain.case import Case
from domain.deadlines import DeadlinePolicy, Obligation, open_deadline
from domain.errors import CaseError
from domain.indicators import QUALITY_AREAS, UnmetIndicator
from domain.participants import Actor, Organisation, Role
from domain.status import Status
from infrastructure.bootstrap import application_env
from infrastructure.database import create_database, drop_database
from infrastructure.migrations import migrate
from infrastructure.settings import replace_dbname
from tests.builders import CHAIR, J_SMITH, changes, evidence_rows, judgements, plan_rows

ADMINS = [Actor(f"ces-admin-{i}", Role.ADMIN) for i in (1, 2)]
REVIEWERS = [f"reviewer-{i}" for i in range(1, 6)]
START = date(2024, 1, 8)
_EXTENDABLE = {
    Status.AWAITING_PLAN: Obligation.PLAN_SUBMISSION,
    Status.PLAN_UNDER_REVIEW: Obligation.PLAN_REVIEW,
    Status.CHANGES_REQUESTED: Obligation.PLAN_RESUBMISSION,
    Status.AWAITING_EVIDENCE: Obligation.EVIDENCE_SUBMISSION,
    Status.EVIDENCE_UNDER_REVIEW: Obligation.EVIDENCE_JUDGEMENT,
    Status.AWAITING_FURTHER_DETAILS: Obligation.FURTHER_DETAILS,
}


def open_random_case(rng: random.Random, *, organisations: int = 50, start: date = START) -> Case:
    """A site visit at a random level with 0 to 4 unmet indicators valid at that level."""
    level = rng.randint(1, 3)
    codes = sorted({f"{rng.choice(list(QUALITY_AREAS))}.{rng.randint(1, level)}.{rng.randint(1, 6)}"
                    for _ in range(rng.choice((0, 1, 2, 2, 3, 4)))})
    n = rng.randrange(organisations)
    return Case.hold_site_visit(
        organisation=Organisation(f"org-{n}", f"Organisation {n}"), level=level,
        visit_date=start + timedelta(days=rng.randint(0, 60)), lead_reviewer=rng.choice(REVIEWERS),
        unmet_indicators=tuple(UnmetIndicator(c, f"Findings for {c}.") for c in codes),
        policy=DeadlinePolicy(), by=rng.choice(ADMINS),
    )


def step_case(case: Case, rng: random.Random) -> bool:
    """Move ``case`` one random step forward; False if it has nowhere to go."""
    day = case.last_activity_on + timedelta(days=rng.choice((0, 1, 3, 7, 10, 14, 15, 20, 30)))
    codes = [row.indicator for row in case.unmet_indicators]
    reviewer = Actor(case.lead_reviewer, Role.LEAD_REVIEWER)
    organisation = Actor(case.organisation.id, Role.ORGANISATION)
    status = case.status
    if status in _EXTENDABLE and rng.random() < 0.12:
        due = open_deadline(case.deadlines, _EXTENDABLE[status])
        to = max(due.due_on, day) + timedelta(days=rng.randint(1, 21)) if due else day
        try:
            if due is not None:
                case.extend_deadline(due.obligation, to=to, reason="Illness.",
                                     by=rng.choice(ADMINS), today=day)
                return True
        except CaseError:  # the domain's rules on extensions may refuse it: go on as usual
            pass
    try:
        if status in (Status.AWAITING_PLAN, Status.CHANGES_REQUESTED):
            case.submit_plan(plan_rows(*codes), rng.choice((J_SMITH, CHAIR)), signed_on=day,
                             received_on=day, by=organisation)
        elif status is Status.PLAN_UNDER_REVIEW:
            if rng.random() < 0.35:
                case.request_changes(changes(*codes[:1]), requested_on=day, by=reviewer)
            else:
                case.approve_plan(approved_on=day, by=reviewer)
        elif status is Status.AWAITING_EVIDENCE:
            day += timedelta(days=rng.choice((0, 20, 40, 60)))
            due = open_deadline(case.deadlines, Obligation.EVIDENCE_SUBMISSION)
            if due is not None and day > due.due_on and rng.random() < 0.7:
                case.record_evidence_deadline_missed(on=day, by=Actor("deadline-job", Role.SYSTEM))
            else:
                case.submit_evidence(evidence_rows(*codes), J_SMITH, signed_on=day,
                                     received_on=day, by=organisation)
        elif status is Status.EVIDENCE_UNDER_REVIEW and rng.random() < 0.3:
            case.request_further_details("Minutes, please.", requested_on=day, by=reviewer)
        elif status is Status.AWAITING_FURTHER_DETAILS and rng.random() < 0.8:
            case.provide_further_details("Minutes enclosed.", received_on=day, by=organisation)
        elif status in (Status.EVIDENCE_UNDER_REVIEW, Status.AWAITING_FURTHER_DETAILS):
            met = [c for c in codes if rng.random() < 0.8]
            case.judge_evidence(judgements(codes, met), "Report.", judged_on=day, by=reviewer)
        elif status is Status.RECOMMENDED:
            case.award_quality_mark(awarded_on=day, by=rng.choice(ADMINS))
        else:
            return False
    except CaseError:  # evidence refused as late: the next step records the lapse
        return True
    return True


class CaseDriver:
    """Opens cases and moves random ones forward, so histories of many cases interleave."""

    def __init__(self, rng: random.Random, *, organisations: int = 50) -> None:
        self.rng, self.organisations = rng, organisations
        self.live: list[Case] = []

    def step(self, open_probability: float = 0.2) -> Case:
        """Open a case or move a live one; return the case that changed (it has pending events)."""
        rng = self.rng
        while True:
            if not self.live or rng.random() < open_probability:
                case = open_random_case(rng, organisations=self.organisations)
                self.live.append(case)
                return case
            case = rng.choice(self.live)
            if step_case(case, rng):
                return case
            self.live.remove(case)


# Every read model table, with the order that makes a dump comparable.
READ_MODEL_TABLES = {
    "deadlines_cases": "SELECT * FROM deadlines_cases ORDER BY case_id",
    "deadlines_obligations": "SELECT * FROM deadlines_obligations ORDER BY case_id, seq",
    "audit_events": "SELECT * FROM audit_events ORDER BY notification_id",
    "reporting.cases": "SELECT * FROM reporting.cases ORDER BY case_id",
    "reporting.unmet_indicators": "SELECT * FROM reporting.unmet_indicators ORDER BY case_id, indicator",
    "positions": "SELECT 'deadlines', notification_id FROM deadlines_tracking WHERE application_name = "
                 "'cases' UNION ALL SELECT 'audit', notification_id FROM audit_tracking WHERE "
                 "application_name = 'cases' UNION ALL SELECT 'reporting', notification_id FROM "
                 "reporting_tracking WHERE application_name = 'cases' ORDER BY 1",
}


@dataclass(frozen=True)
class ProjectionDb:
    """A migrated database of one's own: its URL and the application's env for it."""

    url: str
    env: dict[str, str]

    def dump(self) -> dict[str, list[tuple]]:
        """Every read model's rows (and positions), for comparing two ways of building them."""
        with psycopg.connect(self.url) as conn:
            return {name: conn.execute(query).fetchall() for name, query in READ_MODEL_TABLES.items()}

    def execute(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@contextmanager
def projection_database(admin_url: str) -> Iterator[ProjectionDb]:
    name = f"pqasso_pj_{secrets.token_hex(5)}"
    create_database(admin_url, name)
    url = replace_dbname(admin_url, name)
    try:
        migrate(url)
        yield ProjectionDb(url, application_env(url))
    finally:
        drop_database(admin_url, name)


def record_history(app: QualityMarkCases, rng: random.Random, steps: int,
                   save_every: int = 1) -> dict[UUID, Case]:
    """Drive random cases ``steps`` steps, saving every ``save_every`` steps (several cases
    per save, so one transaction holds events of many cases); return the cases."""
    driver, cases, pending = CaseDriver(rng), {}, {}
    for step in range(1, steps + 1):
        case = driver.step()
        cases[case.id] = pending[case.id] = case
        if step % save_every == 0 or step == steps:
            app.save(*pending.values())
            pending.clear()
    return cases


def test_driver_makes_only_valid_histories_that_replay_to_the_same_case():
    driver = CaseDriver(random.Random(7))
    produced: dict = {}
    for _ in range(400):
        case = driver.step()
        produced.setdefault(case.id, []).extend(case.collect_events())
    statuses = set()
    for history in produced.values():
        replayed = None
        for event in history:
            replayed = event.mutate(replayed)
        statuses.add(replayed.status)
        assert [e.originator_version for e in history] == list(range(1, len(history) + 1))
    assert {Status.AWARDED, Status.NOT_RECOMMENDED, Status.AWAITING_PLAN} <= statuses
