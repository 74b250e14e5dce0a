"""Request bodies for the evidence, the lead reviewer's judgement, the award and extensions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Discriminator, Field, StrictBool, Tag

from application import commands as c
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement
from domain.texts import NAME_MAX
from infrastructure.http import examples as ex
from infrastructure.http.bodies import MAX_ROWS, SignatoryIn, signatory
from infrastructure.http.fields import (
    Body,
    CommandBody,
    Day,
    IndicatorCode,
    ReportText,
    Text,
    bounded_text,
    example_config,
    rows_of,
)

DocumentTitle = bounded_text(NAME_MAX, "A document's title.", "Documented complaints procedure.")


class EvidenceItemIn(Body):
    title: DocumentTitle
    content_hash: str | None = Field(
        default=None, pattern=r"^sha256:[0-9a-f]{64}$", description="When a file is attached.",
    )


# An evidence item is a title, or {title, content_hash}. The tags pick the branch, so
# errors come from that branch alone; errors.py drops the tags from field paths.
UNION_TAGS = frozenset({"title_only", "document"})
EvidenceItemInput = Annotated[
    Annotated[DocumentTitle, Tag("title_only")] | Annotated[EvidenceItemIn, Tag("document")],
    Discriminator(lambda v: "title_only" if isinstance(v, str) else "document"),
]


class EvidenceRowIn(Body):
    indicator: IndicatorCode
    action_undertaken: Text = Field(examples=["Complaints procedure developed and communicated to staff."])
    evidence: list[EvidenceItemInput] = Field(
        min_length=1, max_length=100, examples=[["Documented complaints procedure."]],
        description="The documents sent: each a title, or {title, content_hash}.",
    )

    def row(self) -> EvidenceRow:
        items = tuple(
            EvidenceItem(i) if isinstance(i, str) else EvidenceItem(i.title, i.content_hash)
            for i in self.evidence
        )
        return EvidenceRow(self.indicator, self.action_undertaken, items)


class EvidenceIn(CommandBody):
    """The signed plan with the action undertaken and the evidence for each indicator."""

    model_config = example_config(ex.EVIDENCE)

    rows: list[EvidenceRowIn] = Field(
        min_length=1, max_length=MAX_ROWS, description="One row per unmet indicator, none missing or extra."
    )
    signed_by: SignatoryIn = Field(examples=[{"name": "J Smith", "position": "chief_executive"}])
    signed_on: Day = Field(examples=["2009-06-20"])
    received_on: Day = Field(examples=["2009-06-22"])

    def command(self, case_id: UUID) -> c.SubmitEvidence:
        rows = rows_of(self.rows, EvidenceRowIn.row)
        return c.SubmitEvidence(case_id, rows, signatory(self.signed_by), self.signed_on, self.received_on)


class FurtherDetailsRequestIn(CommandBody):

    model_config = example_config(ex.FURTHER_DETAILS_REQUEST)
    requested_on: Day
    request: Text = Field(examples=["Please send the minutes of the meeting that adopted the procedure."])

    def command(self, case_id: UUID) -> c.RequestFurtherDetails:
        return c.RequestFurtherDetails(case_id, self.requested_on, self.request)


class FurtherDetailsIn(CommandBody):

    model_config = example_config(ex.FURTHER_DETAILS)
    received_on: Day
    details: Text = Field(examples=["Minutes of the board meeting of 12 June 2009 enclosed."])

    def command(self, case_id: UUID) -> c.ProvideFurtherDetails:
        return c.ProvideFurtherDetails(case_id, self.received_on, self.details)


class JudgementIn(Body):
    indicator: IndicatorCode
    met: StrictBool = Field(description="Whether the evidence shows the indicator is now met.")
    comment: Text = Field(examples=["The procedure is adopted and in use."])


class EvidenceJudgementIn(CommandBody):
    """Every unmet indicator judged met or not; recommended only when all are met."""

    model_config = example_config(ex.JUDGEMENT)

    judged_on: Day
    indicators: list[JudgementIn] = Field(
        min_length=1, max_length=MAX_ROWS, description="Every unmet indicator, judged met or not."
    )
    report: ReportText

    def command(self, case_id: UUID) -> c.JudgeEvidence:
        judgements = rows_of(self.indicators, lambda j: IndicatorJudgement(j.indicator, j.met, j.comment), "indicators")
        return c.JudgeEvidence(case_id, self.judged_on, judgements, self.report)


class AwardIn(CommandBody):

    model_config = example_config(ex.AWARD)
    awarded_on: Day

    def command(self, case_id: UUID) -> c.AwardQualityMark:
        return c.AwardQualityMark(case_id, self.awarded_on)


class ExtensionIn(CommandBody):

    model_config = example_config(ex.EXTENSION)
    new_due_on: Day
    reason: Text = Field(examples=["The chief executive was ill; agreed by CES."])
