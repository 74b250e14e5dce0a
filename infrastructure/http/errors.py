"""From exceptions to problem answers: broken rules, refusals, bad shapes, unknown cases.

Pydantic's errors mean the request has the wrong shape; ``CaseError`` means it broke
a rule of the process (the domain decides, the edge only translates). Each refusal is
logged once, here.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import Response

from application.errors import (
    CaseNotFound,
    IdempotencyKeyReused,
    NotAllowed,
    VersionConflict,
    VersionNotFound,
)
from domain.errors import ActionOutOfOrder, CaseError
from infrastructure.http.bodies_evidence import UNION_TAGS
from infrastructure.http.problems import ApiProblem, problem_response

log = structlog.get_logger(__name__)
MAX_FIELD_ERRORS = 100


def install_error_handlers(app: FastAPI) -> None:
    """Answer every expected failure with a problem document."""
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(CaseError, _case_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(NotAllowed, _not_allowed)
    app.add_exception_handler(CaseNotFound, _case_not_found)
    app.add_exception_handler(VersionNotFound, _version_not_found)
    app.add_exception_handler(VersionConflict, _version_conflict)
    app.add_exception_handler(IdempotencyKeyReused, _key_reused)
    for unavailable in (OperationalError, InterfaceError, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(unavailable, _database_unavailable)


async def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(
        request.scope, exc.status, exc.detail, slug=exc.slug, title=exc.title,
        errors=exc.errors, headers=exc.headers,
    )


async def _case_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CaseError)
    out_of_order = isinstance(exc, ActionOutOfOrder)  # CaseEnded is one too
    log.info("command_refused", error=type(exc).__name__, field=exc.field, path=request.url.path)
    return problem_response(
        request.scope, 409 if out_of_order else 422, exc.message, slug=_kebab(type(exc).__name__),
        title="Action out of order" if out_of_order else "The request breaks a rule of the process",
        errors=[(exc.field, exc.message)],
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(dict.fromkeys(field_error(error) for error in exc.errors()))
    shown = errors[:MAX_FIELD_ERRORS]  # a hostile body can hold thousands of faults
    log.info("request_invalid", path=request.url.path, fields=[field for field, _ in shown],
             faults=len(errors))
    more = f" (the first {len(shown)} of {len(errors)})" if len(errors) > len(shown) else ""
    return problem_response(
        request.scope, 422, f"The request is not valid: see errors for each field and why{more}.",
        slug="invalid-input", title="Invalid input", errors=shown,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI's "There was an error parsing the body" (a body it could not turn into JSON,
        # for a reason other than its syntax, which it answers 422 itself): say which reason.
        reason = unreadable_body(exc.__cause__)
        log.info("request_invalid", path=request.url.path, fields=["body"], reason=reason)
        return problem_response(
            request.scope, 422, "The request is not valid: see errors for each field and why.", slug="invalid-input",
            title="Invalid input", errors=[("body", reason)],
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(request.scope, exc.status_code, detail, headers=exc.headers)


def unreadable_body(error: BaseException) -> str:
    """Why a body could not be read as JSON, in words for the caller."""
    if isinstance(error, UnicodeDecodeError):
        return "The body is not UTF-8 text."
    if isinstance(error, RecursionError):
        return "The body's JSON is nested too deeply."
    if isinstance(error, ValueError) and "integer string conversion" in str(error):
        return "The body's JSON holds a number with too many digits."
    return "The body could not be read as JSON."


async def _not_allowed(request: Request, exc: Exception) -> Response:
    log.info("request_forbidden", path=request.url.path, reason=str(exc))
    return problem_response(request.scope, 403, str(exc), slug="not-allowed", title="Not allowed")


async def _case_not_found(request: Request, exc: Exception) -> Response:
    return problem_response(
        request.scope, 404, str(exc), slug="case-not-found", title="No such case",
        errors=[("case_id", str(exc))],
    )


async def _version_not_found(request: Request, exc: Exception) -> Response:
    return problem_response(
        request.scope, 404, str(exc), slug="version-not-found", title="No such version",
        errors=[("version", str(exc))],
    )


async def _version_conflict(request: Request, exc: Exception) -> Response:
    log.info("command_refused", error="VersionConflict", path=request.url.path)
    return problem_response(
        request.scope, 409, str(exc), slug="version-conflict", title="Version conflict",
        errors=[("expected_version", str(exc))],
    )


async def _key_reused(request: Request, exc: Exception) -> Response:
    log.info("command_refused", error="IdempotencyKeyReused", path=request.url.path)
    return problem_response(
        request.scope, 409, str(exc), slug="idempotency-key-reused", title="Idempotency key reused",
        errors=[("Idempotency-Key", str(exc))],
    )


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
    return problem_response(
        request.scope, 503, "The database cannot be reached just now. Try again; repeat a command with the "
        "same Idempotency-Key so it cannot be recorded twice.",
        slug="database-unreachable", headers={"Retry-After": "5"},
    )


def field_error(error: dict[str, Any]) -> tuple[str, str]:
    """A pydantic error as (dotted field, message), without pydantic's location noise."""
    where, *path = error.get("loc") or ("body",)
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "malformed")
        return "body", f"The body is not valid JSON ({reason}, at character {path[0] if path else 0})."
    parts = [str(part) for part in path if part not in UNION_TAGS]
    field = ".".join(parts) if parts else str(where)
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return field, message


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")
