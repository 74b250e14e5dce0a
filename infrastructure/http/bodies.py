"""Request bodies for opening a case and for the plan, converted at the edge into the
application's command dataclasses.

Examples are the guidance's own improvement action plan (indicators 3.1.4 and 4.2.7,
signed by J Smith, chief executive): see ``examples``.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from application import commands as c
from domain.indicators import UnmetIndicator
from domain.participants import Organisation, Signatory, SignatoryPosition
from domain.plans import PlanRow, RequestedChange
from infrastructure.http import examples as ex
from infrastructure.http.fields import (
    Body,
    CommandBody,
    Day,
    Identifier,
    IndicatorCode,
    Level,
    Name,
    Text,
    at,
    example_config,
    rows_of,
)

MAX_ROWS = 200  # PQASSO 3rd edition has fewer indicators than this at any level

class OrganisationIn(Body):
    id: Identifier
    name: Name = Field(examples=["Riverside Community Trust"])


class UnmetIndicatorIn(Body):
    indicator: IndicatorCode
    findings: Text = Field(examples=["There is no documented complaints procedure."])


class OpenCaseIn(Body):
    """Site visit held: the On-site Report's unmet indicators (none: recommended at once)."""

    model_config = example_config(ex.OPEN_CASE)

    organisation: OrganisationIn = Field(description="The organisation assessed.")
    level: Level
    visit_date: Day = Field(examples=["2009-04-17"])
    lead_reviewer: Identifier = Field(examples=["reviewer-1"], description="The lead reviewer's id.")
    unmet_indicators: list[UnmetIndicatorIn] = Field(max_length=MAX_ROWS, examples=[[
        {"indicator": "3.1.4", "findings": "Employers' liability insurance out of date."},
        {"indicator": "4.2.7", "findings": "There is no documented complaints procedure."},
    ]])

    def command(self) -> c.HoldSiteVisit:
        with at("organisation"):
            organisation = Organisation(self.organisation.id, self.organisation.name)
        unmet = tuple(UnmetIndicator(row.indicator, row.findings) for row in self.unmet_indicators)
        return c.HoldSiteVisit(organisation, self.level, self.visit_date, self.lead_reviewer, unmet)


class SignatoryIn(Body):
    name: Name
    position: SignatoryPosition = Field(description="Who signed: the chief executive or the chair.")


class PlanRowIn(Body):
    indicator: IndicatorCode
    findings: Text = Field(examples=["There is no documented complaints procedure."])
    improvement_required: Text


class PlanIn(CommandBody):
    """The (first or revised) improvement action plan, received by post."""

    model_config = example_config(ex.PLAN)

    rows: list[PlanRowIn] = Field(
        min_length=1, max_length=MAX_ROWS, description="One row per unmet indicator, none missing or extra."
    )
    signed_by: SignatoryIn = Field(examples=[{"name": "J Smith", "position": "chief_executive"}])
    signed_on: Day
    received_on: Day = Field(examples=["2009-05-01"])

    def command(self, case_id: UUID) -> c.SubmitPlan:
        rows = rows_of(self.rows, lambda r: PlanRow(r.indicator, r.findings, r.improvement_required))
        return c.SubmitPlan(case_id, rows, signatory(self.signed_by), self.signed_on, self.received_on)


class RequestedChangeIn(Body):
    indicator: IndicatorCode
    comment: Text = Field(examples=["Say who will write the procedure and by when."])


class ChangesRequestedIn(CommandBody):

    model_config = example_config(ex.CHANGES_REQUESTED)
    requested_on: Day
    changes: list[RequestedChangeIn] = Field(
        min_length=1, max_length=MAX_ROWS, description="The rows to change, each with a comment."
    )

    def command(self, case_id: UUID) -> c.RequestChanges:
        changes = rows_of(self.changes, lambda r: RequestedChange(r.indicator, r.comment), "changes")
        return c.RequestChanges(case_id, self.requested_on, changes)


class ApprovalIn(CommandBody):

    model_config = example_config(ex.APPROVAL)
    approved_on: Day

    def command(self, case_id: UUID) -> c.ApprovePlan:
        return c.ApprovePlan(case_id, self.approved_on)




def signatory(signed_by: SignatoryIn) -> Signatory:
    with at("signed_by"):
        return Signatory(signed_by.name, signed_by.position)
