"""Templates (Jinja2, autoescaped) and the HTML answers for errors, so no page ever shows JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from application.errors import CaseNotFound, NotAllowed, VersionNotFound
from infrastructure.web import labels
from infrastructure.web.auth import CSRF_FIELD, CsrfRefused, SignInRequired
from infrastructure.web.sessions import Session

log = structlog.get_logger(__name__)


class Pages:
    """Renders the templates in ``infrastructure/web/templates`` with the filters they use."""

    def __init__(self) -> None:
        env = Environment(
            loader=PackageLoader("infrastructure.web", "templates"),
            autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        env.filters.update(
            day=labels.day, obligation=lambda v: labels.label(labels.OBLIGATIONS, v),
            status=lambda v: labels.label(labels.STATUSES, v), role=lambda v: labels.label(labels.ROLES, v),
            party=lambda v: labels.label(labels.PARTIES, v), event=lambda v: labels.label(labels.EVENTS, v),
            position=lambda v: labels.label(labels.POSITIONS, v), words=labels.words,
            field_id=lambda name: "f-" + name.replace(".", "-"),
        )
        self.env = env

    def render(
        self, request: Request, template: str, *, session: Session | None = None, status: int = 200,
        csrf_token: str | None = None, **context: Any,
    ) -> HTMLResponse:
        session = session or getattr(request.state, "web_session", None)
        if csrf_token is None:
            csrf_token = session.csrf_token if session else ""
        html = self.env.get_template(template).render(
            session=session, actor=session.actor if session else None,
            csrf_field=CSRF_FIELD, csrf_token=csrf_token,
            path=request.url.path, **context,
        )
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=status, title=title, message=message)


_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError, PoolTimeout)


def install_error_pages(app: FastAPI, pages: Pages) -> None:
    """Answer every expected failure of a page with a page (or a redirect to sign in)."""

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/sign-in?next={quote(target, safe='/')}", status_code=303)

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        log.info("web_form_refused", reason="csrf", path=request.url.path)
        return pages.error(request, 403, "Form refused", "This form has expired or did not come from "
                           "these pages. Go back, reload the page and try again.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        log.info("request_forbidden", path=request.url.path, reason=str(exc))
        return pages.error(request, 403, "Not allowed", str(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        return pages.error(request, 404, "Not found", str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return pages.error(request, exc.status_code, "Not found" if exc.status_code == 404 else "Error", message)

    async def bad_address(request: Request, exc: Exception) -> Response:
        return pages.error(request, 422, "Address not understood", "Part of the address is not valid.")

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
        return pages.error(request, 503, "Unavailable", "The database cannot be reached just now. Try again shortly.")

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(NotAllowed, not_allowed)
    app.add_exception_handler(CaseNotFound, not_found)
    app.add_exception_handler(VersionNotFound, not_found)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_address)
    for error in _UNAVAILABLE:
        app.add_exception_handler(error, unavailable)
