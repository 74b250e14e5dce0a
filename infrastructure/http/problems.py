"""RFC 9457 problem details: the one shape every error answer takes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response
from starlette.types import Scope

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:pqasso:problem:"


class FieldError(BaseModel):
    """One thing wrong with the request: where, and why."""

    field: str | None = Field(
        description="Dotted path of the offending part: a body field (`rows.0.indicator`), "
        "a query parameter, a header, or null when no single field is to blame.",
        examples=["rows.1.indicator"],
    )
    message: str = Field(examples=["Indicator 4.2.9 is not listed as unmet in the On-site Report."])


class Problem(BaseModel):
    """An error answer (RFC 9457), always sent as ``application/problem+json``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "type": "urn:pqasso:problem:action-out-of-order", "title": "Action out of order",
            "status": 409, "detail": "Cannot approve the plan: this case is waiting for the "
            "organisation's improvement action plan.", "instance": "/cases/0b6f.../plan/approval",
            "errors": [], "request_id": "5f0c9f0b2f4c4a4e9d1f7c3b2a1e0d9c",
        }]}
    )

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person to read.")
    instance: str = Field(description="The path of the request.")
    errors: list[FieldError] = Field(default_factory=list, description="Each field at fault, and why.")
    request_id: str | None = Field(default=None, description="The X-Request-ID of the request, for support.")


class ApiProblem(Exception):
    """Raised anywhere in the HTTP layer to answer with a problem."""

    def __init__(
        self, status: int, detail: str, *, slug: str | None = None, title: str | None = None,
        errors: Sequence[tuple[str | None, str]] = (), headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.slug, self.title = status, detail, slug, title
        self.errors, self.headers = tuple(errors), dict(headers or {})


def problem_body(
    scope: Scope, status: int, detail: str, *, slug: str | None = None, title: str | None = None,
    errors: Sequence[tuple[str | None, str]] = (),
) -> dict[str, Any]:
    """The problem document for one request (``scope`` gives the instance and request id)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
        "errors": [{"field": field, "message": message} for field, message in errors],
        "request_id": scope.get("state", {}).get("request_id"),
    }


def problem_response(
    scope: Scope, status: int, detail: str, *, headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Response:
    body = problem_body(scope, status, detail, **kwargs)
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status answered with the Problem model."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "The request could not be read.",
    401: "No token, or a token that is unknown or revoked (`WWW-Authenticate: Bearer`).",
    403: "The token's role, or its principal, may not do this (to this case).",
    404: "No such case (or version of it).",
    409: "Out of order for the case's stage, the case changed since `expected_version`, "
    "or the `Idempotency-Key` was used for a different request.",
    413: "The body is larger than the service accepts.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    422: "The input is invalid: `errors` names each field and why.",
    503: "The database cannot be reached.",
}
