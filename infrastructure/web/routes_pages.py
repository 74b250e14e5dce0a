"""The pages that read: the overdue dashboard, a case, its history, and its plan as a PDF."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from application.authorization import Action, check_allowed, check_role
from application.views import case_state
from domain.case import Case
from infrastructure.http.auth import parse_case_id
from infrastructure.web.case_view import case_view
from infrastructure.web.context import Web
from infrastructure.web.dashboard import SORTS, Filters, may, rows_from, visible_to
from infrastructure.web.history_view import history_page
from infrastructure.web.labels import EVENTS
from infrastructure.web.pdf import plan_pdf
from infrastructure.web.timeline import draw

RECORDED = {  # the form's action: (the event it records, what the page then says)
    "open_case": ("SiteVisitHeld", "The site visit was recorded and the case opened."),
    "submit_plan": ("PlanSubmitted", "The plan was recorded."),
    "request_changes": ("ChangesRequested", "The request for changes was recorded."),
    "approve_plan": ("PlanApproved", "The plan was approved."),
    "submit_evidence": ("EvidenceSubmitted", "The evidence was recorded."),
    "request_further_details": ("FurtherDetailsRequested", "The request was recorded."),
    "provide_further_details": ("FurtherDetailsProvided", "The further details were recorded."),
    "judge_evidence": ("EvidenceJudged", "The judgement was recorded."),
    "award_quality_mark": ("QualityMarkAwarded", "The Quality Mark award was recorded."),
    "extend_deadline": ("DeadlineExtended", "The deadline was extended."),
}


def recorded_message(action: str, history: Sequence[Any], principal: str) -> str:
    """What a form's redirect (``?recorded=<action>``) has the case page say: only while the
    case's latest event is what that action records, by this principal. A link made up, or
    opened again after anyone has acted on the case since, says nothing."""
    event_type, message = RECORDED.get(action, ("", ""))
    if not history or type(history[-1]).__name__ != event_type:
        return ""
    actor = getattr(history[-1], "actor", None)
    return message if actor is not None and actor.principal == principal else ""


def page_routes(web: Web) -> APIRouter:
    """GET /ui/, /ui/cases, /ui/cases/{id}, its history and its plan.pdf."""
    router = APIRouter(prefix="/ui")

    @router.get("/", name="dashboard")
    def dashboard(request: Request) -> Response:
        session = web.auth.require(request)
        filters, problems = Filters.from_query(request.query_params, web.clock())
        level_of = cache(lambda case_id: web.cases.get_case(UUID(str(case_id))).level)
        overdue = visible_to(session.actor, rows_from(web.overdue.overdue_on(filters.on), "days_overdue", level_of))
        upcoming = [] if web.upcoming is None else visible_to(
            session.actor, rows_from(web.upcoming.upcoming(filters.on, filters.within), "days_left", level_of))
        shown = filters.order(r for r in overdue if filters.keeps(r, overdue=True))
        soon = sorted((r for r in upcoming if filters.keeps(r, overdue=False)),
                      key=lambda r: (r.due_on, r.organisation.name))
        counts = {"overdue": len(overdue), "organisation": sum(r.owed_by == "organisation" for r in overdue),
                  "lead_reviewer": sum(r.owed_by == "lead_reviewer" for r in overdue), "upcoming": len(upcoming)}
        return web.pages.render(
            request, "dashboard.html", session=session, filters=filters, problems=problems, rows=shown,
            upcoming=soon, counts=counts, sorts=SORTS, today=web.clock(), upcoming_available=web.upcoming is not None,
            reviewers=sorted({r.lead_reviewer for r in overdue + upcoming}),
            may_open_case=may(session.actor, Action.OPEN_CASE),
        )

    @router.get("/cases", name="find_case")
    def find_case(request: Request, id: str = "") -> Response:
        web.auth.require(request)
        return RedirectResponse(f"/ui/cases/{parse_case_id(id.strip())}", status_code=303)

    @router.get("/cases/{case_id}", name="case")
    def case_page(request: Request, case_id: str, recorded: str = "") -> Response:
        session = web.auth.require(request)
        case = _readable(web, session.actor, case_id, Action.READ_CASE)
        history = web.cases.history(case.id)
        view = case_view(case_state(case), case, history, session.actor)
        ended = case.status.has_ended or case.outcome is not None
        timeline = draw(view.state["deadlines"], start=case.visit_date, today=web.clock(), ended=ended)
        return web.pages.render(
            request, "case.html", session=session, view=view, state=view.state, timeline=timeline,
            recorded=recorded_message(recorded, history, session.actor.principal), today=web.clock(),
            may_read_history=may(session.actor, Action.READ_HISTORY, case),
        )

    @router.get("/cases/{case_id}/history", name="history")
    def history(request: Request, case_id: str, version: str = "") -> Response:
        session = web.auth.require(request)
        case = _readable(web, session.actor, case_id, Action.READ_HISTORY)
        page = history_page(web.cases, case, version)
        return web.pages.render(request, "history.html", session=session, case=case, page=page, events=EVENTS,
                                status=page.status)

    @router.get("/cases/{case_id}/plan.pdf", name="plan_pdf")
    def plan(request: Request, case_id: str) -> Response:
        session = web.auth.require(request)
        case = _readable(web, session.actor, case_id, Action.READ_CASE)
        content = plan_pdf(case_view(case_state(case), case, web.cases.history(case.id), None))
        name = "improvement-action-plan-" + re.sub(r"[^A-Za-z0-9_-]", "-", case.organisation.id) + ".pdf"
        return Response(content, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return router


def _readable(web: Web, actor: Any, case_id: str, action: Action) -> Case:
    check_role(actor, action)
    case = web.cases.get_case(parse_case_id(case_id))
    check_allowed(actor, action, case)
    return case
