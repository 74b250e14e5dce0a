"""The deadline job: records what the passing of time causes.

Guidance: "If the lead reviewer does not receive evidence of your improvement
actions within the 8 week period, he or she will contact you to tell you that you
will not be recommended." The job records that once per case, as a command
through the application, so it is idempotent: a case already lapsed is refused
by the domain and skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol
from uuid import UUID

import structlog

from application.cases import QualityMarkCases
from application.commands import CommandContext, RecordEvidenceDeadlineMissed
from domain.errors import CaseError, InvalidDate
from domain.participants import Actor, Role

log = structlog.get_logger(__name__)

DEADLINE_JOB = Actor("deadline-job", Role.SYSTEM)


class EvidenceOverdueCases(Protocol):
    """The deadline view's answer to: whose evidence is overdue on this day?"""

    def evidence_overdue_cases(self, day: date) -> Iterable[UUID]: ...


@dataclass
class DeadlineJobResult:
    on: date
    lapsed: list[UUID] = field(default_factory=list)
    skipped: list[UUID] = field(default_factory=list)


def run_deadline_job(cases: QualityMarkCases, view: EvidenceOverdueCases, on: date, *,
                     today: date) -> DeadlineJobResult:
    """Record "evidence deadline missed" for every case whose evidence is overdue on ``on``, a
    day that has come by ``today`` (the job's clock): InvalidDate for a later one, before
    anything is recorded (a run for a future day would end cases whose evidence may yet come)."""
    if on > today:
        raise InvalidDate(f"The deadline job runs for a day that has come: {on.isoformat()} is after "
                          f"today, {today.isoformat()}.", field="on")
    result = DeadlineJobResult(on)
    for case_id in view.evidence_overdue_cases(on):
        ctx = CommandContext(DEADLINE_JOB, today=today, idempotency_key=f"evidence-deadline:{case_id}",
                             request_hash="evidence-deadline-missed")
        try:
            answer = cases.execute(RecordEvidenceDeadlineMissed(case_id, on), ctx)
        except CaseError as error:
            # The view may lag behind the store: the case may have moved on since.
            log.info("deadline_job_skipped_case", case_id=str(case_id), reason=str(error))
            result.skipped.append(case_id)
            continue
        (result.skipped if answer.replayed else result.lapsed).append(case_id)
    log.info("deadline_job_ran", on=on.isoformat(), lapsed=len(result.lapsed), skipped=len(result.skipped))
    return result
