"""Properties of any sequence of commands, valid or not, in any order, with dates near the deadlines.

(a) a refused command stores nothing and leaves the case as it was;
(b) replaying the events from scratch gives the live case;
(c) at most one open deadline per obligation, and the open deadlines match the status.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case import Case
from domain.deadlines import DeadlinePolicy, Obligation
from domain.errors import CaseError
from domain.status import Status
from tests.builders import (
    ADMIN,
    CHAIR,
    CHARITY,
    DEADLINE_JOB,
    J_SMITH,
    LEAD_REVIEWER,
    LEAD_REVIEWER_ID,
    ORGANISATION,
    changes,
    evidence_rows,
    judgements,
    on_site_report,
    plan_rows,
    replay,
)

POOL = ("3.1.4", "4.2.7", "1.1.1", "5.2.7", "12.3.2")
VISIT = date(2024, 1, 31)
OPEN_FOR_STATUS = {
    Status.AWAITING_PLAN: {Obligation.PLAN_SUBMISSION},
    Status.PLAN_UNDER_REVIEW: {Obligation.PLAN_REVIEW},
    Status.CHANGES_REQUESTED: {Obligation.PLAN_RESUBMISSION},
    Status.AWAITING_EVIDENCE: {Obligation.EVIDENCE_SUBMISSION},
    Status.EVIDENCE_UNDER_REVIEW: {Obligation.EVIDENCE_JUDGEMENT},
    Status.AWAITING_FURTHER_DETAILS: {Obligation.FURTHER_DETAILS},
    Status.RECOMMENDED: set(),
    Status.NOT_RECOMMENDED: set(),
    Status.AWARDED: set(),
}
NEXT_STEPS = {  # what a well-behaved user would do next, one picked at random
    Status.AWAITING_PLAN: ("submit_plan",),
    Status.PLAN_UNDER_REVIEW: ("approve_plan", "approve_plan", "request_changes"),
    Status.CHANGES_REQUESTED: ("submit_plan",),
    Status.AWAITING_EVIDENCE: ("submit_evidence",) * 4 + ("extend_deadline",
                                                          "record_evidence_deadline_missed"),
    Status.EVIDENCE_UNDER_REVIEW: ("judge_evidence", "request_further_details"),
    Status.AWAITING_FURTHER_DETAILS: ("provide_further_details", "provide_further_details",
                                      "judge_evidence"),
    Status.RECOMMENDED: ("award_quality_mark",),
}
COMMANDS = (
    "submit_plan", "request_changes", "approve_plan", "submit_evidence", "request_further_details",
    "provide_further_details", "judge_evidence", "record_evidence_deadline_missed",
    "award_quality_mark", "extend_deadline",
)


@dataclass(frozen=True)
class Command:
    """A command with its inputs described relative to the case it meets."""

    name: str
    from_due: bool  # date counted from the earliest open due date, else from the last step
    offset: int
    signed_offset: int
    today_offset: int | None
    rows: str
    text: str
    met: frozenset[str]
    obligation: Obligation


commands = st.builds(
    Command,
    name=st.sampled_from(("next",) * 15 + COMMANDS),
    from_due=st.booleans(),
    offset=st.integers(-2, 16),
    signed_offset=st.sampled_from((0, 1, 2, 3, 0, 1, 2, 3, -1)),
    today_offset=st.sampled_from((None, None, None, 0, 1, 2, -1)),
    rows=st.sampled_from(("exact",) * 12 + ("padded", "missing", "extra", "duplicate", "bad")),
    text=st.sampled_from(("ok",) * 12 + ("blank", "long")),
    met=st.frozensets(st.sampled_from(POOL)),
    obligation=st.sampled_from(Obligation),
)
policies = st.builds(
    DeadlinePolicy,
    plan_submission_days=st.integers(1, 30), evidence_submission_days=st.sampled_from([56, 56, 7]),
    evidence_judgement_days=st.integers(1, 21),
)


def rows_like(codes: tuple[str, ...], choice: str) -> list[str]:
    pick = {
        "exact": list(codes), "padded": [f" 0{c} " for c in codes], "missing": list(codes[1:]),
        "extra": [*codes, "2.1.9"], "duplicate": [*codes, *codes[:1]], "bad": [*codes[1:], "13.1.1"],
    }
    return pick[choice]


def text_like(choice: str) -> str:
    return {"ok": "Clear enough.", "blank": "  ", "long": "x" * 60_000}[choice]


def day_for(case: Case, cmd: Command) -> tuple[date, date | None]:
    open_dues = sorted(d.due_on for d in case.deadlines if d.is_open)
    anchor = open_dues[0] if cmd.from_due and open_dues else case.last_activity_on
    day = anchor + timedelta(days=cmd.offset)
    today = None if cmd.today_offset is None else day + timedelta(days=cmd.today_offset)
    return day, today


def run(case: Case, cmd: Command) -> None:
    """Turn the description into the real command; inputs that cannot be built count as refused."""
    codes = tuple(row.indicator for row in case.unmet_indicators)
    name = cmd.name
    if name == "next":
        options = NEXT_STEPS.get(case.status, COMMANDS)
        name = options[cmd.offset % len(options)]
    day, today = day_for(case, cmd)
    signed = day - timedelta(days=cmd.signed_offset)
    rows, text = rows_like(codes, cmd.rows), text_like(cmd.text)
    signatory = CHAIR if cmd.signed_offset % 2 else J_SMITH
    actions = {
        "submit_plan": lambda: case.submit_plan(
            plan_rows(*rows), signatory, signed_on=signed, received_on=day, by=ADMIN, today=today),
        "request_changes": lambda: case.request_changes(
            changes(*rows[: 1 + cmd.offset % 3]), requested_on=day, by=LEAD_REVIEWER, today=today),
        "approve_plan": lambda: case.approve_plan(approved_on=day, by=LEAD_REVIEWER, today=today),
        "submit_evidence": lambda: case.submit_evidence(
            evidence_rows(*rows), signatory, signed_on=signed, received_on=day, by=ADMIN, today=today),
        "request_further_details": lambda: case.request_further_details(
            text, requested_on=day, by=LEAD_REVIEWER, today=today),
        "provide_further_details": lambda: case.provide_further_details(
            text, received_on=day, by=ORGANISATION, today=today),
        "judge_evidence": lambda: case.judge_evidence(
            judgements(rows, cmd.met), text, judged_on=day, by=LEAD_REVIEWER, today=today),
        "record_evidence_deadline_missed": lambda: case.record_evidence_deadline_missed(
            on=day, by=DEADLINE_JOB),
        "award_quality_mark": lambda: case.award_quality_mark(awarded_on=day, by=ADMIN, today=today),
        "extend_deadline": lambda: case.extend_deadline(
            cmd.obligation, to=day, reason=text, by=ADMIN, today=today or day),
    }
    actions[name]()


def check_invariants(case: Case) -> None:
    open_obligations = [d.obligation for d in case.deadlines if d.is_open]
    assert len(open_obligations) == len(set(open_obligations)), case.deadlines
    assert set(open_obligations) == OPEN_FOR_STATUS[case.status], (case.status, case.deadlines)
    decided = {Status.RECOMMENDED, Status.NOT_RECOMMENDED, Status.AWARDED}
    assert (case.outcome is not None) == (case.status in decided)
    assert all(d.opened_on < d.due_on for d in case.deadlines)
    assert all(d.closed_on >= d.opened_on for d in case.deadlines if not d.is_open)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    unmet=st.sampled_from((True,) * 9 + (False,)).flatmap(  # one case in ten has none unmet
        lambda some: st.lists(st.sampled_from(POOL), unique=True, min_size=some, max_size=4 * some)),
    level=st.sampled_from((3, 3, 3, 2, 1)),
    policy=policies,
    steps=st.lists(commands, min_size=8, max_size=30),
)
def test_any_sequence_of_commands_keeps_the_case_consistent(unmet, level, policy, steps):
    try:
        case = Case.hold_site_visit(
            organisation=CHARITY, level=level, visit_date=VISIT, lead_reviewer=LEAD_REVIEWER_ID,
            unmet_indicators=on_site_report(*unmet), policy=policy, by=ADMIN,
        )
    except CaseError:
        assert any(int(code.split(".")[1]) > level for code in unmet)
        return
    recorded = case.collect_events()
    for cmd in steps:
        before = copy.deepcopy(vars(case))
        try:
            run(case, cmd)
        except CaseError:
            assert vars(case) == before  # (a) includes the empty list of pending events
            continue
        new = case.collect_events()
        assert len(new) == 1
        recorded += new
        check_invariants(case)
    assert vars(replay(recorded)) == vars(case)  # (b)
    assert [e.originator_version for e in recorded] == list(range(1, len(recorded) + 1))
