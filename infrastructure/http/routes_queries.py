"""The read routes: a case (now or at a version), its history, deadlines, and health.

No ``from __future__ import annotations``: FastAPI must see the dependencies, which
close over this module's arguments, as objects rather than strings to evaluate.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query

from application.authorization import Action
from application.cases import QualityMarkCases
from application.views import case_state, history_item
from infrastructure.http.answers import CaseState, Health, HistoryItem, OverdueItem, UpcomingItem
from infrastructure.http.auth import Caller, may, may_on_case
from infrastructure.http.fields import Day
from infrastructure.http.ports import OverdueQueries, ProjectionHealth, UpcomingQueries
from infrastructure.http.problems import ApiProblem, error_responses

log = structlog.get_logger(__name__)

OnDay = Annotated[Day | None, Query(description="The day to look from (YYYY-MM-DD); default today.")]


def query_routes(
    cases: QualityMarkCases, overdue: OverdueQueries, upcoming: UpcomingQueries | None,
    health: ProjectionHealth, clock: Callable[[], date],
) -> APIRouter:
    """Routes that read: cases from the event store, deadlines from the read model."""
    router = APIRouter()
    reads = error_responses(401, 403, 404, 422)

    @router.get("/cases/{case_id}", response_model=CaseState, tags=["cases"], responses=reads,
                summary="A case now, or after its first N events")
    def get_case(
        who: Annotated[Caller, Depends(may_on_case(cases, Action.READ_CASE))],
        version: Annotated[int | None, Query(ge=1, description="Show the case after its first N events.")] = None,
    ) -> dict[str, Any]:
        """Admin, auditor, the case's organisation and its lead reviewer."""
        case = who.case if version is None else cases.get_case(who.case_id, version)
        return case_state(case)

    @router.get("/cases/{case_id}/history", response_model=list[HistoryItem], tags=["cases"],
                responses=reads, summary="The case's events, oldest first")
    def get_history(
        who: Annotated[Caller, Depends(may_on_case(cases, Action.READ_HISTORY))],
    ) -> list[dict[str, Any]]:
        """Admin and auditor: who did what, when, with every fact recorded."""
        return [history_item(event) for event in cases.history(who.case_id)]

    @router.get("/overdue", response_model=list[OverdueItem], tags=["deadlines"],
                responses=error_responses(401, 403, 422, 503), summary="Obligations overdue on a day")
    def get_overdue(
        _: Annotated[Caller, Depends(may(Action.READ_OVERDUE))], on: OnDay = None,
    ) -> Sequence[Any]:
        """Admin, auditor and reporting; from the deadline read model."""
        return _read_model(lambda: overdue.overdue_on(on or clock()))

    @router.get("/upcoming", response_model=list[UpcomingItem], tags=["deadlines"],
                responses=error_responses(401, 403, 422, 503), summary="Obligations falling due soon")
    def get_upcoming(
        _: Annotated[Caller, Depends(may(Action.READ_UPCOMING))],
        on: OnDay = None,
        days: Annotated[int, Query(ge=0, le=366, description="How many days ahead to look.")] = 14,
    ) -> Sequence[Any]:
        """Admin, auditor and reporting: open obligations due within ``days`` of ``on``."""
        if upcoming is None:
            raise ApiProblem(503, "The upcoming-deadlines read model is not available.", slug="unavailable")
        return _read_model(lambda: upcoming.upcoming(on or clock(), days))

    @router.get("/health", response_model=Health, tags=["service"],
                responses=error_responses(503), summary="Liveness, database and projection lag")
    def get_health() -> dict[str, Any]:
        """No token needed. 503 when the database cannot be reached."""
        projections = _read_model(health.status)
        return {"status": "ok", "database": "ok", "projections": list(projections)}

    return router


def _read_model(read: Callable[[], Sequence[Any]]) -> Sequence[Any]:
    """Read from the database, answering 503 (not 500) when it cannot be reached."""
    try:
        return read()
    except Exception as error:
        log.warning("read_model_unavailable", error=type(error).__name__, exc_info=True)
        raise ApiProblem(
            503, "The database cannot be reached.", slug="database-unreachable",
            headers={"Retry-After": "5"},
        ) from error
