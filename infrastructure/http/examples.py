"""The guidance's example improvement action plan, as request bodies.

Shown in /openapi.json, and sent by the tests, so every example the API documents is
known to be accepted. Dates follow the example: the plan signed 30/04/2009 by J Smith,
chief executive, within two weeks of a site visit on 17/04/2009.
"""

from __future__ import annotations

from typing import Any

J_SMITH = {"name": "J Smith", "position": "chief_executive"}

OPEN_CASE: dict[str, Any] = {
    "organisation": {"id": "org-1", "name": "Riverside Community Trust"},
    "level": 2,
    "visit_date": "2009-04-17",
    "lead_reviewer": "reviewer-1",
    "unmet_indicators": [
        {"indicator": "3.1.4", "findings": "Employers' liability insurance out of date."},
        {"indicator": "4.2.7", "findings": "There is no documented complaints procedure."},
    ],
}

PLAN: dict[str, Any] = {
    "rows": [
        {
            "indicator": "3.1.4",
            "findings": "Employers' liability insurance out of date.",
            "improvement_required": "Examine our present system for identifying legal requirements "
            "and set up a process to ensure these legal requirements are met.",
        },
        {
            "indicator": "4.2.7",
            "findings": "There is no documented complaints procedure.",
            "improvement_required": "Develop a complaints procedure.",
        },
    ],
    "signed_by": J_SMITH,
    "signed_on": "2009-04-30",
    "received_on": "2009-05-01",
}

CHANGES_REQUESTED: dict[str, Any] = {
    "requested_on": "2009-05-08",
    "changes": [{"indicator": "4.2.7", "comment": "Say who will write the procedure, and by when."}],
}

APPROVAL: dict[str, Any] = {"approved_on": "2009-05-20"}

EVIDENCE: dict[str, Any] = {
    "rows": [
        {
            "indicator": "3.1.4",
            "action_undertaken": "Previously unmet legal requirements have been put into place. "
            "Relevant people have been informed. Ongoing process has been established to ensure "
            "legal requirements are up-to-date.",
            "evidence": ["Copy of employers' liability certificate."],
        },
        {
            "indicator": "4.2.7",
            "action_undertaken": "Complaints procedure developed and communicated to staff.",
            "evidence": [{"title": "Documented complaints procedure."}],
        },
    ],
    "signed_by": J_SMITH,
    "signed_on": "2009-06-20",
    "received_on": "2009-06-22",
}

JUDGEMENT: dict[str, Any] = {
    "judged_on": "2009-07-01",
    "indicators": [
        {"indicator": "3.1.4", "met": True, "comment": "Certificate current; review process in place."},
        {"indicator": "4.2.7", "met": True, "comment": "Procedure documented and known to staff."},
    ],
    "report": "Report on the improvement actions: both indicators are now met; "
    "Riverside Community Trust is recommended for the PQASSO Quality Mark at level 2.",
}

FURTHER_DETAILS_REQUEST: dict[str, Any] = {
    "requested_on": "2009-06-25",
    "request": "Please send the minutes of the meeting that adopted the complaints procedure.",
}

FURTHER_DETAILS: dict[str, Any] = {
    "received_on": "2009-06-29",
    "details": "Minutes of the board meeting of 12 June 2009 enclosed.",
}

AWARD: dict[str, Any] = {"awarded_on": "2009-07-15"}

EXTENSION: dict[str, Any] = {
    "new_due_on": "2009-05-15",
    "reason": "The chief executive was ill; agreed with CES.",
}

# The happy path as data: (path under /cases/{case_id}, body, who acts, status after).
HAPPY_PATH: tuple[tuple[str, dict[str, Any], str, str], ...] = (
    ("plan", PLAN, "organisation", "plan_under_review"),
    ("plan/approval", APPROVAL, "lead_reviewer", "awaiting_evidence"),
    ("evidence", EVIDENCE, "organisation", "evidence_under_review"),
    ("evidence/further-details-request", FURTHER_DETAILS_REQUEST, "lead_reviewer", "awaiting_further_details"),
    ("evidence/further-details", FURTHER_DETAILS, "organisation", "evidence_under_review"),
    ("evidence/judgement", JUDGEMENT, "lead_reviewer", "recommended"),
    ("award", AWARD, "admin", "awarded"),
)
