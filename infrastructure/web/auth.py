"""Who is signed in to the pages, and whether a form really came from our own page.

Sign-in takes an API token (the same tokens, roles and principals as the JSON API)
and starts a server-side session (``sessions.py``) that keeps only the token's hash,
re-checked on every request so that revoking the token ends the session; the browser
holds only the session id, in a cookie that is ``HttpOnly`` (no script can read it), ``SameSite=Strict``
(no other site's page can send it) and, when ``secure``, ``Secure`` with the
``__Host-`` prefix (HTTPS only, this host only, path /). Every POST must carry the
session's CSRF token in a hidden field; the sign-in form, before any session, carries
a one-off token that must match a short-lived cookie (double submit).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from domain.participants import Actor
from infrastructure.http.ports import AuthenticatesHashes
from infrastructure.tokens import token_hash
from infrastructure.web.sessions import KeepsSessions, Session, same_secret

CSRF_FIELD = "csrf_token"
MAX_FIELDS = 2_000
MAX_FIELD_BYTES = 64 * 1024


class SignInRequired(Exception):
    """Raised when a page needs a signed-in user and the request has no live session."""


class CsrfRefused(Exception):
    """Raised when a form arrives without this session's CSRF token, or from another site."""


class WebAuth:
    """Sessions, their cookie, and the CSRF checks of every form."""

    def __init__(self, tokens: AuthenticatesHashes, sessions: KeepsSessions, *, secure: bool) -> None:
        self.tokens, self.sessions, self.secure = tokens, sessions, secure
        prefix = "__Host-" if secure else ""
        self.session_cookie = f"{prefix}pqasso_session"
        self.sign_in_cookie = f"{prefix}pqasso_sign_in"

    # ---- sessions ---------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        """The request's live session; ended here if its token has been revoked since sign-in."""
        session_id = request.cookies.get(self.session_cookie)
        session = self.sessions.get(session_id)
        if session is None:
            return None
        if self.tokens.authenticate_hash(session.token_hash) != session.actor:
            self.sessions.end(session_id)
            return None
        request.state.actor = session.actor  # for the access log
        request.state.web_session = session  # for error pages' navigation
        return session

    def require(self, request: Request) -> Session:
        """The live session, or SignInRequired (answered with a redirect to the sign-in page)."""
        session = self.session(request)
        if session is None:
            raise SignInRequired
        return session

    def sign_in(self, token: str) -> tuple[str, Session] | None:
        """A new session for a live token; None for an unknown or revoked one."""
        token = token.strip()
        actor: Actor | None = self.tokens.authenticate(token) if token else None
        if actor is None:
            return None
        return self.sessions.start(actor, token_hash(token))

    def sign_out(self, request: Request, response: Response) -> None:
        self.sessions.end(request.cookies.get(self.session_cookie))
        response.delete_cookie(self.session_cookie, path="/", secure=self.secure, httponly=True, samesite="strict")

    def set_session_cookie(self, response: Response, session_id: str) -> None:
        # No Max-Age: a browser session cookie; the server expires the session itself.
        response.set_cookie(self.session_cookie, session_id, path="/", secure=self.secure,
                            httponly=True, samesite="strict")

    # ---- CSRF --------------------------------------------------------------------------------

    @staticmethod
    def new_sign_in_token() -> str:
        return secrets.token_urlsafe(32)

    def set_sign_in_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(self.sign_in_cookie, token, max_age=3600, path="/", secure=self.secure,
                            httponly=True, samesite="strict")

    async def sign_in_form(self, request: Request) -> FormData:
        """The sign-in form, refused unless its token matches the sign-in cookie."""
        form = await self._read(request)
        expected = request.cookies.get(self.sign_in_cookie)
        if not expected or not same_secret(_text(form.get(CSRF_FIELD)), expected):
            raise CsrfRefused
        return form

    async def form(self, request: Request, session: Session) -> FormData:
        """A form posted in ``session``, refused unless it carries the session's CSRF token."""
        form = await self._read(request)
        if not same_secret(_text(form.get(CSRF_FIELD)), session.csrf_token):
            raise CsrfRefused
        return form

    async def _read(self, request: Request) -> FormData:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            raise CsrfRefused  # a browser says where a form came from: it must be this site
        return await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a page of ours, never another site."""
    if path and path.startswith("/ui/") and not path.startswith("//") and "\\" not in path:
        parts = urlsplit(path)
        if not parts.scheme and not parts.netloc:
            return path
    return "/ui/"
