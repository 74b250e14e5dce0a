"""Who is calling (bearer tokens, checked before anything else) and may they (the matrix).

Authentication is middleware, so that no token means 401 whatever else is wrong with
the request. Authorization is a dependency per route: the role is checked before the
case is loaded, ownership once it is, and both before the body is looked at.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import structlog
from fastapi import Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from application.authorization import Action, check_allowed, check_role
from application.cases import QualityMarkCases
from application.errors import CaseNotFound
from domain.case import Case
from domain.participants import Actor
from infrastructure.http.ports import Authenticator, RemembersTokens
from infrastructure.http.problems import problem_response

log = structlog.get_logger(__name__)

PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_CHALLENGE = 'Bearer realm="pqasso"'


class AuthenticationMiddleware:
    """Answers 401 unless the request carries a live bearer token (public paths excepted)."""

    def __init__(self, app: ASGIApp, *, tokens: Authenticator) -> None:
        self.app, self.tokens = app, tokens
        self.remembered = tokens.remembered if isinstance(tokens, RemembersTokens) else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await self._refuse(scope, receive, send, "Send Authorization: Bearer <token>.", "")
            return
        token = token.strip()
        try:
            actor = self.remembered(token) if self.remembered is not None else None
            if actor is None:
                actor = await run_in_threadpool(self.tokens.authenticate, token)
        except Exception:
            log.exception("token_check_failed")
            await problem_response(
                scope, 503, "Tokens cannot be checked just now; try again shortly.",
                slug="unavailable", headers={"Retry-After": "5"},
            )(scope, receive, send)
            return
        if actor is None:
            await self._refuse(scope, receive, send, "The token is unknown or revoked.", ', error="invalid_token"')
            return
        scope.setdefault("state", {})["actor"] = actor
        with structlog.contextvars.bound_contextvars(principal=actor.principal, role=actor.role.value):
            await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str, error: str) -> None:
        response = problem_response(
            scope, 401, detail, slug="unauthenticated", title="Unauthenticated",
            headers={"WWW-Authenticate": _CHALLENGE + error},
        )
        await response(scope, receive, send)


def caller(request: Request) -> Actor:
    """The authenticated actor (the middleware guarantees one on every non-public path)."""
    return request.state.actor


@dataclass(frozen=True)
class Caller:
    """Who is acting, and on which case (None for actions on no case)."""

    actor: Actor
    case: Case | None = None

    @property
    def case_id(self) -> UUID:
        assert self.case is not None
        return self.case.id


CaseIdPath = Path(
    description="The case's id (a UUID); anything else is an unknown case (404).",
    examples=["0b6f5a4e-2c1d-4e8f-9a7b-3c2d1e0f9a8b"],
)


def parse_case_id(case_id: str) -> UUID:
    """A case id from a path; malformed ones are simply unknown cases."""
    try:
        return UUID(case_id)
    except ValueError:
        raise CaseNotFound(case_id[:64]) from None


def may(action: Action) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency: the role may take ``action`` at all (actions on no case, and opening one).
    (``async``, though it waits on nothing: FastAPI runs a plain function in a worker thread.)"""

    async def dependency(request: Request) -> Caller:
        actor = caller(request)
        check_role(actor, action)
        return Caller(actor)

    return dependency


def may_on_case(cases: QualityMarkCases, action: Action) -> Callable[..., Caller]:
    """Dependency: the role may take ``action``, the case exists, and it is the caller's to act
    on. ``Caller.case`` is the case now (queries answer with it).

    Ownership (organisation, lead reviewer) is fixed when a case opens, so checking it on
    a case loaded before the command runs cannot be overtaken by a concurrent change.
    """

    def dependency(request: Request, case_id: str = CaseIdPath) -> Caller:
        actor = caller(request)
        check_role(actor, action)
        case = cases.get_case(parse_case_id(case_id))
        check_allowed(actor, action, case)
        return Caller(actor, case)

    return dependency


def may_command_case(cases: QualityMarkCases, action: Action) -> Callable[..., Awaitable[Caller]]:
    """``may_on_case`` for commands, which load the case again themselves: the check may use
    the case as this process last saw it (ownership never changes), so a case in the cache
    costs no database call, and no hop to a worker thread. ``Caller.case`` may be stale."""

    async def dependency(request: Request, case_id: str = CaseIdPath) -> Caller:
        actor = caller(request)
        return Caller(actor, await case_to_command(cases, actor, action, case_id))

    return dependency


async def case_to_command(
    cases: QualityMarkCases, actor: Actor, action: Action, case_id: str,
    in_thread: Callable[..., Awaitable[Case]] = run_in_threadpool,
) -> Case:
    """``may_command_case``'s checks: the role, then the case (as this process last saw it,
    else loaded in a worker thread) and whether it is the caller's to act on."""
    check_role(actor, action)
    known = parse_case_id(case_id)
    case = cases.cached_case(known) or await in_thread(cases.get_case, known)
    check_allowed(actor, action, case)
    return case
