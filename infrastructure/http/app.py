"""``create_api``: the FastAPI application over the cases, tokens and read models it is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from application.cases import QualityMarkCases
from infrastructure.http.auth import PUBLIC_PATHS, AuthenticationMiddleware
from infrastructure.http.command_fast_path import CommandFastPath
from infrastructure.http.errors import install_error_handlers
from infrastructure.http.middleware import BodyGuardMiddleware, RequestContextMiddleware
from infrastructure.http.ports import (
    Authenticator,
    OverdueQueries,
    ProjectionHealth,
    UpcomingQueries,
)
from infrastructure.http.problems import PROBLEM_JSON
from infrastructure.http.routes_commands import command_routes
from infrastructure.http.routes_queries import query_routes

DESCRIPTION = """Back office for the PQASSO Quality Mark improvement action planning process.

Every request but `GET /health` and this description (`/openapi.json`, `/docs`, `/redoc`:
public) needs `Authorization: Bearer TOKEN` (`pqasso tokens add`); without one the answer is
401, whatever else is wrong with the request.
Errors are RFC 9457 problem details (`application/problem+json`). Commands take an optional
`expected_version` (409 when the case has moved on) and an `Idempotency-Key` header.
"""


def create_api(
    cases: QualityMarkCases,
    tokens: Authenticator,
    overdue: OverdueQueries,
    health: ProjectionHealth,
    *,
    upcoming: UpcomingQueries | None = None,
    clock: Callable[[], date] = date.today,
    max_body_bytes: int = 1_000_000,
    fast_commands: bool = True,
) -> FastAPI:
    """Build the HTTP API. ``upcoming`` defaults to ``overdue`` when that also answers
    ``upcoming(day, days)`` (as the deadline view does); ``clock`` gives "today" (for the domain's date checks and default days)."""
    if upcoming is None and isinstance(overdue, UpcomingQueries):
        upcoming = overdue
    app = FastAPI(title="PQASSO cases", version="1", description=DESCRIPTION)
    install_error_handlers(app)
    app.include_router(command_routes(cases, clock))
    app.include_router(query_routes(cases, overdue, upcoming, health, clock))
    # The last added runs first: request id and access log, then the token (no token is a 401
    # whatever else is wrong with the request: auth.py), then size and type, then (well-formed
    # commands) the fast path.
    if fast_commands:
        app.add_middleware(CommandFastPath, cases=cases, clock=clock, handlers=app.exception_handlers)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(AuthenticationMiddleware, tokens=tokens)
    app.add_middleware(RequestContextMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the bearer scheme, and errors described as problem+json only."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer", "description": "An API token from `pqasso tokens add`.",
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if path not in PUBLIC_PATHS:
                operation["security"] = [{"bearer": []}]
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and PROBLEM_JSON in content:
                    content.pop("application/json", None)
                elif status == "422":  # FastAPI's own HTTPValidationError: we answer a Problem
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    schema["components"].get("schemas", {}).pop("HTTPValidationError", None)
    schema["components"].get("schemas", {}).pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
