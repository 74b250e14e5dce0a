"""``create_web_app``: the back-office pages under ``/ui``, over the same application, read
models and tokens as the JSON API; ``with_web_pages`` serves both from one address."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.cases import QualityMarkCases
from infrastructure.http.middleware import RequestContextMiddleware
from infrastructure.http.ports import AuthenticatesHashes, OverdueQueries, UpcomingQueries
from infrastructure.web.auth import WebAuth
from infrastructure.web.context import Web
from infrastructure.web.pages import Pages, install_error_pages
from infrastructure.web.routes_forms import form_routes
from infrastructure.web.routes_pages import page_routes
from infrastructure.web.routes_signin import sign_in_routes
from infrastructure.web.sessions import KeepsSessions, SessionStore
from infrastructure.whole_numbers import whole_number

PREFIX = "/ui"
MAX_FORM_BYTES = 1_000_000
# No script runs on these pages; styles come from our own stylesheet (plus the SVG's own).
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self' data:; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


def create_web_router(web: Web) -> APIRouter:
    """Every page's route (all under /ui); ``create_web_app`` adds what they rely on."""
    router = APIRouter(include_in_schema=False)
    for routes in (sign_in_routes(web), form_routes(web), page_routes(web)):  # /cases/new first
        router.include_router(routes)
    return router


def create_web_app(
    cases: QualityMarkCases, tokens: AuthenticatesHashes, overdue: OverdueQueries,
    upcoming: UpcomingQueries | None = None, *, clock: Callable[[], date] = date.today,
    secure_cookies: bool = True, sessions: KeepsSessions | None = None,
) -> FastAPI:
    """The pages as an ASGI app whose paths all start with /ui (see ``with_web_pages``).

    ``secure_cookies`` marks the session cookie Secure (HTTPS only); turn it off only for
    plain-HTTP development on this machine. ``sessions``: where browser sessions are kept;
    in this process's memory unless given (a ``PostgresSessionStore`` when several processes
    serve). The caller closes it.
    """
    if upcoming is None and hasattr(overdue, "upcoming"):
        upcoming = overdue  # type: ignore[assignment]
    pages = Pages()
    auth = WebAuth(tokens, SessionStore() if sessions is None else sessions, secure=secure_cookies)
    web = Web(cases, overdue, upcoming, clock, auth, pages)
    app = FastAPI(title="PQASSO cases: back office", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_pages(app, pages)
    app.include_router(create_web_router(web))
    app.add_middleware(FormGuardMiddleware, max_body_bytes=MAX_FORM_BYTES)
    app.add_middleware(RequestContextMiddleware)  # request id, access log, Cache-Control: no-store
    app.state.web = web
    return app


def with_web_pages(api: ASGIApp, web: ASGIApp, prefix: str = PREFIX) -> ASGIApp:
    """One ASGI app: paths under ``prefix`` go to the pages, everything else to the API.

    The API keeps its bearer-token and JSON-body middleware; the pages have sessions and forms.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        target = web if path == prefix or path.startswith(prefix + "/") else api
        await target(scope, receive, send)

    return app


class FormGuardMiddleware:
    """Adds the security headers to every page, and refuses bodies over ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app, self.limit = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = whole_number(Headers(scope=scope).get("content-length", "0"), max_digits=18)
        if length is None or length > self.limit:
            await _too_large(send)
            return
        received, started = 0, False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_headers)
        except _TooLarge:
            if started:
                raise
            await _too_large(send)


class _TooLarge(Exception):
    """Raised while a form streams in, once it passes the limit."""


async def _too_large(send: Send) -> None:
    body = b"The form is larger than these pages accept."
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
