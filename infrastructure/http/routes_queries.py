"""The read routes: a case (now or at a version), its history, deadlines, and health.

No ``from __future__ import annotations``: FastAPI must see the dependencies, which
close over this module's arguments, as objects rather than strings to evaluate.
"""

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter

from application.authorization import Action
from application.cases import QualityMarkCases
from application.views import case_state, history_item
from domain.deadlines import LOOK_AHEAD_MAX_DAYS
from infrastructure.http.answers import CaseState, Health, HistoryItem, OverdueItem, UpcomingItem
from infrastructure.http.auth import Caller, may, may_on_case
from infrastructure.http.fields import Day
from infrastructure.http.ports import (
    DeadlineListsAsJson,
    OverdueQueries,
    ProjectionHealth,
    UpcomingQueries,
)
from infrastructure.http.problems import ApiProblem, error_responses

log = structlog.get_logger(__name__)

OnDay = Annotated[Day | None, Query(description="The day to look from (YYYY-MM-DD); default today.")]


def query_routes(
    cases: QualityMarkCases, overdue: OverdueQueries, upcoming: UpcomingQueries | None,
    health: ProjectionHealth, clock: Callable[[], date],
) -> APIRouter:
    """Routes that read: cases from the event store, deadlines from the read model."""
    router = APIRouter()
    reads = error_responses(401, 403, 404, 422, 503)
    # Which way each deadline list is written is fixed by the read model: chosen here, once.
    overdue_json = (_own_json(overdue.overdue_json) if isinstance(overdue, DeadlineListsAsJson)
                    else _items_json(OVERDUE_ITEMS, overdue.overdue_on))
    upcoming_json = None if upcoming is None else (
        _own_json(upcoming.upcoming_json) if isinstance(upcoming, DeadlineListsAsJson)
        else _items_json(UPCOMING_ITEMS, upcoming.upcoming))

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
    async def get_overdue(
        _: Annotated[Caller, Depends(may(Action.READ_OVERDUE))], on: OnDay = None,
    ) -> Response:
        """Admin, auditor and reporting; from the deadline read model."""
        return await _json_answer(overdue_json, on or clock())

    @router.get("/upcoming", response_model=list[UpcomingItem], tags=["deadlines"],
                responses=error_responses(401, 403, 422, 503), summary="Obligations falling due soon")
    async def get_upcoming(
        _: Annotated[Caller, Depends(may(Action.READ_UPCOMING))],
        on: OnDay = None,
        days: Annotated[int, Query(ge=0, le=LOOK_AHEAD_MAX_DAYS, description="How many days ahead to look.")] = 14,
    ) -> Response:
        """Admin, auditor and reporting: open obligations due within ``days`` of ``on``."""
        if upcoming_json is None:
            raise ApiProblem(503, "The upcoming-deadlines read model is not available.", slug="unavailable")
        # A look ahead past the calendar's end: the read model's last_day_ahead refuses it
        # (InvalidInput: 422 on days) before it reads anything.
        return await _json_answer(upcoming_json, on or clock(), days)

    @router.get("/health", response_model=Health, tags=["service"],
                responses=error_responses(503), summary="Liveness, database and projection lag")
    def get_health() -> dict[str, Any]:
        """No token needed. 503 when the database cannot be reached."""
        projections = _read_model(health.status)
        return {"status": "ok", "database": "ok", "projections": list(projections)}

    return router


# The deadline lists are long (an item per overdue obligation: ~280 with 100,000 cases). A
# read model that writes them as JSON itself (``DeadlineListsAsJson``) is answered with its
# text as it is; another's items are checked against the answer's model and written in the
# thread that read them (FastAPI would take a second thread hop to validate them). Building,
# validating and writing an object per item was ~80% of the request's CPU (BENCHMARKS.md,
# "Overdue").
OVERDUE_ITEMS = TypeAdapter(list[OverdueItem])
UPCOMING_ITEMS = TypeAdapter(list[UpcomingItem])


async def _json_answer(as_json: Callable[..., bytes], *args: Any) -> Response:
    """``as_json(*args)`` in one thread hop, answered as it is."""
    return Response(await run_in_threadpool(as_json, *args), media_type="application/json")


def _own_json(read_json: Callable[..., bytes]) -> Callable[..., bytes]:
    """The read model's own JSON of a list."""
    return lambda *args: _read_model(lambda: read_json(*args))


def _items_json(answer: TypeAdapter[Any], read: Callable[..., Sequence[Any]]) -> Callable[..., bytes]:
    """The read model's items as the route's ``response_model`` would answer them."""

    def as_json(*args: Any) -> bytes:
        items = _read_model(lambda: read(*args))
        return answer.dump_json(answer.validate_python(items, from_attributes=True))

    return as_json


def _read_model(read: Callable[[], Any]) -> Any:
    """Read from the database, answering 503 (not 500) when it cannot be reached. Only the
    database's errors: anything else is a fault of ours, answered 500 as such, never passed
    off as an outage."""
    try:
        return read()
    except (psycopg.Error, PersistenceError, OSError) as error:
        log.warning("read_model_unavailable", error=type(error).__name__, exc_info=True)
        raise ApiProblem(
            503, "The database cannot be reached.", slug="database-unreachable",
            headers={"Retry-After": "5"},
        ) from error
