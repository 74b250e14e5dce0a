"""The improvement action plan's rows, the evidence sent, and the lead reviewer's judgement.

Guidance: the plan states, per unmet indicator, the indicator, the peer reviewer
findings (as in the On-site Report) and the improvement required; once actions are
done, the final two columns record the action undertaken and the evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.texts import NAME_MAX, TEXT_MAX, required_text

_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
MAX_EVIDENCE_ITEMS = 100


@dataclass(frozen=True)
class PlanRow:
    """One row of the improvement action plan."""

    indicator: str
    findings: str
    improvement_required: str

    def __post_init__(self) -> None:
        required_text(self.findings, field="findings")
        required_text(self.improvement_required, field="improvement_required")


@dataclass(frozen=True)
class EvidenceItem:
    """A document sent as evidence; ``content_hash`` (``sha256:<hex>``) when a file is attached."""

    title: str
    content_hash: str | None = None

    def __post_init__(self) -> None:
        required_text(self.title, field="evidence.title", max_length=NAME_MAX)
        if self.content_hash is not None and not _SHA256.fullmatch(self.content_hash):
            raise InvalidInput(
                "A file's content hash must be written sha256: followed by 64 lower-case hex digits.",
                field="evidence.content_hash",
            )


@dataclass(frozen=True)
class EvidenceRow:
    """The final two columns of the plan for one indicator: action undertaken and evidence."""

    indicator: str
    action_undertaken: str
    evidence: tuple[EvidenceItem, ...]

    def __post_init__(self) -> None:
        required_text(self.action_undertaken, field="action_undertaken")
        object.__setattr__(self, "evidence", tuple(self.evidence))
        if not 1 <= len(self.evidence) <= MAX_EVIDENCE_ITEMS:
            raise InvalidInput(
                f"Indicator {self.indicator}: list from 1 to {MAX_EVIDENCE_ITEMS} evidence items.",
                field="evidence",
            )


@dataclass(frozen=True)
class RequestedChange:
    """The lead reviewer's comment on one indicator's row when asking for changes."""

    indicator: str
    comment: str

    def __post_init__(self) -> None:
        required_text(self.comment, field="comment", max_length=TEXT_MAX)


@dataclass(frozen=True)
class IndicatorJudgement:
    """Whether the evidence shows one indicator is now met, and why."""

    indicator: str
    met: bool
    comment: str

    def __post_init__(self) -> None:
        if not isinstance(self.met, bool):
            raise InvalidInput(f"Indicator {self.indicator}: met must be true or false.", field="met")
        required_text(self.comment, field="comment", max_length=TEXT_MAX)
