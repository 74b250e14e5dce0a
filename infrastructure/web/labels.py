"""Words the pages show for the domain's values, in the guidance's vocabulary (domain.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

OBLIGATIONS = {
    "plan_submission": "Submit the plan",
    "plan_review": "Review the plan",
    "plan_resubmission": "Submit the revised plan",
    "evidence_submission": "Submit the evidence",
    "further_details": "Answer the further-details request",
    "evidence_judgement": "Judge the evidence",
}
PARTIES = {"organisation": "Organisation", "lead_reviewer": "Lead reviewer"}
STATUSES = {
    "awaiting_plan": "Awaiting the plan",
    "plan_under_review": "Plan under review",
    "changes_requested": "Changes requested",
    "awaiting_evidence": "Awaiting evidence",
    "evidence_under_review": "Evidence under review",
    "awaiting_further_details": "Awaiting further details",
    "recommended": "Recommended",
    "not_recommended": "Not recommended",
    "awarded": "Quality Mark awarded",
}
ROLES = {
    "admin": "CES administrator", "lead_reviewer": "Lead reviewer", "organisation": "Organisation",
    "auditor": "CES auditor", "reporting": "Reporting", "system": "Deadline job",
}
POSITIONS = {"chief_executive": "Chief Executive", "chair": "Chair"}
EVENTS = {
    "SiteVisitHeld": "Site visit held",
    "PlanSubmitted": "Plan submitted",
    "ChangesRequested": "Changes requested",
    "PlanApproved": "Plan approved",
    "EvidenceSubmitted": "Evidence submitted",
    "FurtherDetailsRequested": "Further details requested",
    "FurtherDetailsProvided": "Further details provided",
    "EvidenceJudged": "Evidence judged",
    "EvidenceDeadlineMissed": "Evidence deadline missed",
    "QualityMarkAwarded": "Quality Mark awarded",
    "DeadlineExtended": "Deadline extended",
}
CLOSURES = {"met": "Met", "missed": "Missed", "withdrawn": "Withdrawn", "open": "Open"}


def value_of(value: Any) -> str:
    """An enum's value, or the text itself."""
    return str(getattr(value, "value", value))


def label(table: dict[str, str], value: Any) -> str:
    """The words for ``value`` in ``table``; the value with underscores as spaces otherwise."""
    key = value_of(value)
    return table.get(key, key.replace("_", " ").capitalize())


def day(value: Any) -> str:
    """A date as people write it here: 30 Apr 2009 (ISO text or a date)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.day} {value:%b %Y}"


def words(name: str) -> str:
    """A field name as words: ``improvement_required`` -> ``Improvement required``."""
    return name.replace("_", " ").capitalize()
