"""The forms for the evidence and after: evidence received by post, further details asked
for and received, the lead reviewer's judgement, the award, and a deadline's extension."""

from __future__ import annotations

from datetime import date
from typing import Any

from application import commands as c
from application.authorization import Action
from domain.case import Case
from domain.deadlines import Obligation
from domain.errors import InvalidInput
from domain.participants import Actor
from infrastructure.http import bodies_evidence as be
from infrastructure.web.form_specs import one_date
from infrastructure.web.forms import (
    Field,
    FormSpec,
    Group,
    Values,
    signature_body,
    signature_fields,
)
from infrastructure.web.labels import OBLIGATIONS, day, label, value_of

MET_OPTIONS = (("yes", "Met"), ("no", "Not met"))


def _evidence_layout(case: Case | None, values: Values) -> list[Group]:
    assert case is not None
    improvement = {row.indicator: row.improvement_required for row in case.plan}
    groups = [
        Group(f"Indicator {row.indicator}", (
            Field(f"rows.{i}.indicator", "Indicator", "hidden"),
            Field(f"rows.{i}.action_undertaken", "Action undertaken", "textarea"),
            Field(f"rows.{i}.evidence", "Evidence", "textarea", rows=2,
                  hint="The documents sent, one title per line."),
        ), name=f"rows.{i}", hint=f"Improvement required: {improvement.get(row.indicator, '')}")
        for i, row in enumerate(case.unmet_indicators)
    ]
    return [*groups, signature_fields()]


def _evidence_initial(case: Case | None, actor: Actor, today: date) -> Values:
    assert case is not None
    values = {f"rows.{i}.indicator": row.indicator for i, row in enumerate(case.unmet_indicators)}
    if case.plan_signed_by is not None:
        values |= {"signed_by.name": case.plan_signed_by.name,
                   "signed_by.position": value_of(case.plan_signed_by.position)}
    return values | {"received_on": today.isoformat()}


def _evidence_body(values: Values, case: Case | None) -> tuple[dict[str, Any], dict[str, str]]:
    assert case is not None
    rows = [{
        "indicator": values.get(f"rows.{i}.indicator", ""),
        "action_undertaken": values.get(f"rows.{i}.action_undertaken", ""),
        "evidence": [line.strip() for line in values.get(f"rows.{i}.evidence", "").splitlines() if line.strip()],
    } for i in range(len(case.unmet_indicators))]
    return {"rows": rows, **signature_body(values)}, {}


def _judgement_layout(case: Case | None, values: Values) -> list[Group]:
    assert case is not None
    groups = [Group("Judgement", (Field("judged_on", "Date judged", "date"),))]
    groups += [
        Group(f"Indicator {row.indicator}", (
            Field(f"indicators.{i}.indicator", "Indicator", "hidden"),
            Field(f"indicators.{i}.met", "Does the evidence show it is now met?", "radios", MET_OPTIONS),
            Field(f"indicators.{i}.comment", "Comment", "textarea", rows=2),
        ), name=f"indicators.{i}")
        for i, row in enumerate(case.unmet_indicators)
    ]
    report = Field("report", "Report on the improvement actions", "textarea", rows=6,
                   hint="Sent to the organisation and to CES.")
    return [*groups, Group("Report", (report,), name="indicators")]


def _judgement_initial(case: Case | None, actor: Actor, today: date) -> Values:
    assert case is not None
    return {"judged_on": today.isoformat()} | {
        f"indicators.{i}.indicator": row.indicator for i, row in enumerate(case.unmet_indicators)}


def _met(text: str) -> Any:
    return {"yes": True, "no": False}.get(text)


def _judgement_body(values: Values, case: Case | None) -> tuple[dict[str, Any], dict[str, str]]:
    assert case is not None
    rows = []
    for i in range(len(case.unmet_indicators)):
        row: dict[str, Any] = {"indicator": values.get(f"indicators.{i}.indicator", ""),
                               "comment": values.get(f"indicators.{i}.comment", "")}
        if _met(values.get(f"indicators.{i}.met", "")) is not None:
            row["met"] = _met(values[f"indicators.{i}.met"])
        rows.append(row)
    return {"judged_on": values.get("judged_on", ""), "indicators": rows, "report": values.get("report", "")}, {}


def _text_form(date_name: str, date_words: str, text_name: str, text_words: str) -> tuple[Any, Any, Any]:
    return (
        lambda case, values: [Group(text_words, (Field(date_name, date_words, "date"),
                                                 Field(text_name, text_words, "textarea", rows=4)))],
        lambda case, actor, today: {date_name: today.isoformat()},
        lambda values, case: ({date_name: values.get(date_name, ""), text_name: values.get(text_name, "")}, {}),
    )


def _extension_layout(case: Case | None, values: Values) -> list[Group]:
    assert case is not None
    options = tuple((d.obligation.value, f"{label(OBLIGATIONS, d.obligation)} (due {day(d.due_on)})")
                    for d in case.deadlines if d.is_open)
    return [Group("Extension", (
        Field("obligation", "Deadline", "select", options), Field("new_due_on", "New due date", "date"),
        Field("reason", "Reason", "textarea", rows=3, hint="Why CES agreed to the extension."),
    ))]


def _extension_body(values: Values, case: Case | None) -> tuple[dict[str, Any], dict[str, str]]:
    return {"new_due_on": values.get("new_due_on", ""), "reason": values.get("reason", "")}, {}


def _extension_command(body: Any, case: Case | None, values: Values) -> c.ExtendDeadline:
    assert case is not None
    try:
        obligation = Obligation(values.get("obligation", ""))
    except ValueError:
        raise InvalidInput("Choose one of the case's open deadlines.", field="obligation") from None
    return c.ExtendDeadline(case.id, obligation, body.new_due_on, body.reason)


EVIDENCE_FORMS = (
    FormSpec(Action.SUBMIT_EVIDENCE, "evidence", "Evidence received",
             "Key in the signed plan's last two columns as received by post: the action undertaken "
             "and the evidence sent for each indicator.",
             be.EvidenceIn, _evidence_layout, _evidence_initial, _evidence_body, submit="Record the evidence"),
    FormSpec(Action.REQUEST_FURTHER_DETAILS, "evidence/further-details-request", "Ask for further details",
             "Ask the organisation for anything that is unclear in the evidence.", be.FurtherDetailsRequestIn,
             *_text_form("requested_on", "Date asked", "request", "What is needed"), submit="Ask"),
    FormSpec(Action.PROVIDE_FURTHER_DETAILS, "evidence/further-details", "Further details received",
             "Key in the organisation's answer to the request for further details.", be.FurtherDetailsIn,
             *_text_form("received_on", "Date received", "details", "The details"), submit="Record the details"),
    FormSpec(Action.JUDGE_EVIDENCE, "evidence/judgement", "Judge the evidence",
             "Judge each indicator; the case is recommended only when every one is met.",
             be.EvidenceJudgementIn, _judgement_layout, _judgement_initial, _judgement_body,
             submit="Record the judgement"),
    FormSpec(Action.AWARD_QUALITY_MARK, "award", "Award the Quality Mark", "CES's decision on the recommendation.",
             be.AwardIn, *one_date("awarded_on", "Date awarded"), submit="Award"),
    FormSpec(Action.EXTEND_DEADLINE, "extension", "Extend a deadline", "Move one open deadline later, saying why.",
             be.ExtensionIn, _extension_layout, lambda case, actor, today: {}, _extension_body,
             command=_extension_command, submit="Extend"),
)
