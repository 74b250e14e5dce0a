"""Signing in with an API token, and out again; the stylesheet, which needs no sign-in."""

from __future__ import annotations

from importlib.resources import files

import structlog
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from infrastructure.web.auth import safe_next
from infrastructure.web.context import Web

log = structlog.get_logger(__name__)
STYLESHEET = files("infrastructure.web").joinpath("static/style.css").read_bytes()


def sign_in_routes(web: Web) -> APIRouter:
    """GET and POST /ui/sign-in, POST /ui/sign-out, GET /ui/static/style.css."""
    router = APIRouter(prefix="/ui")

    @router.get("/sign-in", name="sign_in_form")
    def sign_in_form(request: Request, next: str = "/ui/") -> Response:
        return _form(web, request, next, error="")

    @router.post("/sign-in", name="sign_in")
    async def sign_in(request: Request) -> Response:
        form = await web.auth.sign_in_form(request)
        token = form.get("token")
        target = safe_next(str(form.get("next", "")))
        started = await run_in_threadpool(web.auth.sign_in, token if isinstance(token, str) else "")
        if started is None:
            log.info("web_sign_in_refused")
            return _form(web, request, target, error="That token is unknown or has been revoked.", status=401)
        session_id, session = started
        log.info("web_signed_in", principal=session.actor.principal, role=session.actor.role.value)
        response = RedirectResponse(target, status_code=303)
        web.auth.set_session_cookie(response, session_id)
        response.delete_cookie(web.auth.sign_in_cookie, path="/", secure=web.auth.secure, httponly=True,
                               samesite="strict")
        return response

    @router.post("/sign-out", name="sign_out")
    async def sign_out(request: Request) -> Response:
        session = await run_in_threadpool(web.auth.session, request)
        if session is not None:
            await web.auth.form(request, session)
        response = RedirectResponse("/ui/sign-in", status_code=303)
        await run_in_threadpool(web.auth.sign_out, request, response)  # the store may be a database
        return response

    @router.get("/static/style.css", name="stylesheet")
    def stylesheet() -> Response:
        return Response(STYLESHEET, media_type="text/css")

    return router


def _form(web: Web, request: Request, next_path: str, *, error: str, status: int = 200) -> Response:
    token = web.auth.new_sign_in_token()
    response = web.pages.render(request, "sign_in.html", status=status, csrf_token=token,
                                next=safe_next(next_path), error=error)
    web.auth.set_sign_in_cookie(response, token)
    return response
