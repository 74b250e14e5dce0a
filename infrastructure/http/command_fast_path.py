"""The command routes' well-formed requests, run without FastAPI's per-request machinery.

Every command is a route of the FastAPI application (``routes_commands``): that is where its
OpenAPI description, its validation errors and every unusual request are answered. Under
load, though, FastAPI's work around a command (routing through every route, solving the
endpoint's dependencies, its exception and exit-stack middlewares, parsing the body once
for validation and again for the idempotency hash) was about a fifth of a worker's CPU per
command (BENCHMARKS.md, "HTTP commands"). This middleware sits where FastAPI's router would
be reached, after authentication, and takes only the requests it can answer exactly as the
route would:

* ``POST /cases`` and ``POST /cases/{case_id}/<command>`` (``CASE_COMMANDS``), at the root;
* the same checks in the same order: the body parsed as JSON (FastAPI reads it before any
  dependency), the role, the case (404 if unknown) and whether it is the caller's, then the
  ``Idempotency-Key`` header and the body's model;
* a body that is JSON and valid for the route's model, and a well-formed key. Anything else
  goes on to FastAPI with the body it sent, so a 422 is FastAPI's own, field for field;
* an exception after that (a refusal of the process, a version conflict, an unreachable
  database) is answered by the application's own handler for it (``errors.py``).

Each step is the route's own code (``check_role``, ``auth.case_to_command``,
``request_hash``, ``opened``, ``executed``), with the thread hop passed in;
``tests/unit/test_http_fast_path.py`` compares the two ways answer for answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application import commands as c
from application.authorization import Action, check_role
from application.cases import QualityMarkCases
from domain.case import Case
from domain.participants import Actor
from infrastructure.http import bodies as b
from infrastructure.http.auth import case_to_command
from infrastructure.http.routes_commands import (
    CASE_COMMANDS,
    KEY_PATTERN,
    executed,
    opened,
    request_hash,
)

_KEY = re.compile(KEY_PATTERN)  # used with fullmatch, as pydantic's pattern is
_PREFIX = "/cases/"
Handler = Callable[[Request, Exception], Any]


class CommandFastPath:
    """Runs the well-formed command requests itself; passes every other request on."""

    def __init__(self, app: ASGIApp, *, cases: QualityMarkCases, clock: Callable[[], date],
                 handlers: Mapping[Any, Handler]) -> None:
        self.app, self.cases, self.clock, self.handlers = app, cases, clock, handlers
        # Commands wait on PostgreSQL in threads of their own, as Starlette's run_in_threadpool
        # runs them (at most 40 at once, anyio's default), but through asyncio's machinery:
        # a hop of a no-op cost 81–84 µs of CPU so, 120–126 µs through anyio's (uvloop, this
        # machine). Threads start when first needed, so a process forked after this is built
        # has none to lose.
        self.threads = ThreadPoolExecutor(max_workers=40, thread_name_prefix="pqasso-command")
        self.commands: dict[str, tuple[Action, type[BaseModel]]] = {
            path.removeprefix(_PREFIX + "{case_id}/"): (action, body)
            for path, action, body, _ in CASE_COMMANDS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        case_part, action, body_type = route
        try:
            received, raw = await _read_body(receive)
        except Exception as error:  # a body over the limit (BodyGuardMiddleware), as the route says it
            await self._answer_error(scope, receive, send, error)
            return
        data = _json(scope, raw) if raw is not None else _UNREADABLE
        if data is _UNREADABLE:  # FastAPI reads the body first, and refuses it (422, 400)
            await self.app(scope, _replaying(received, receive), send)
            return
        actor = scope["state"]["actor"]
        try:
            case = await self._allowed(actor, action, case_part)
        except Exception as error:
            await self._answer_error(scope, receive, send, error)
            return
        key = _idempotency_key(scope)
        body = _valid(body_type, data) if key is not _UNREADABLE else None
        if body is None:  # FastAPI answers the 422, field by field
            await self.app(scope, _replaying(received, receive), send)
            return
        # The path holds nothing Starlette would escape (the case id parsed as a UUID), so it
        # is the route's ``request.url.path``.
        request = request_hash(scope["method"], scope["path"], data)
        try:
            response = await self._run(actor, case, body, key, request)
        except Exception as error:
            await self._answer_error(scope, receive, send, error)
            return
        await response(scope, receive, send)

    async def _allowed(self, actor: Actor, action: Action, case_part: str | None) -> Case | None:
        """The route's dependency (``may`` or ``may_command_case``): the role, then the case
        (None when opening one) and whether it is the caller's to act on."""
        if case_part is None:
            check_role(actor, action)
            return None
        return await case_to_command(self.cases, actor, action, case_part, self._in_thread)

    async def _run(self, actor: Actor, case: Case | None, body: Any, key: str | None,
                   request: str) -> Response:
        """The route's endpoint: the command, and its answer."""
        if case is None:
            return await opened(self.cases, body, c.CommandContext(
                actor, self.clock(), None, key, request), self._in_thread)
        return await executed(self.cases, body.command(case.id), c.CommandContext(
            actor, self.clock(), body.expected_version, key, request), self._in_thread)

    async def _in_thread(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` in a worker thread, with this request's context variables (the log
        lines' request id), as ``run_in_threadpool`` does."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.threads, contextvars.copy_context().run, func, *args)

    def _route(self, scope: Scope) -> tuple[str | None, Action, type[BaseModel]] | None:
        """(the case id as sent, or None for opening one; the action; the body's model)."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if path == "/cases":
            return None, Action.OPEN_CASE, b.OpenCaseIn
        if not path.startswith(_PREFIX):
            return None
        case_part, _, command = path[len(_PREFIX):].partition("/")
        found = self.commands.get(command)
        if found is None or not case_part:
            return None
        return case_part, *found

    async def _answer_error(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """As FastAPI's exception middleware would: the handler for the error's class (or
        its nearest base); an error with none goes up to ``RequestContextMiddleware`` (500)."""
        handler = next((self.handlers[cls] for cls in type(error).__mro__ if cls in self.handlers), None)
        if handler is None:
            raise error
        response = await handler(Request(scope, receive), error)
        await response(scope, receive, send)


_UNREADABLE: Any = object()  # not something the route takes as it is


def _json(scope: Scope, raw: bytes) -> Any:
    """The body parsed as FastAPI parses it, if it sent JSON (``application/json``); else
    ``_UNREADABLE``."""
    if not raw:
        return _UNREADABLE
    content_type = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is not None:
                return _UNREADABLE
            content_type = value
    if content_type is None or content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return _UNREADABLE
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, no Unicode, or nested too deep
        return _UNREADABLE


def _idempotency_key(scope: Scope) -> str | None:
    """The ``Idempotency-Key`` header if well-formed (None if absent); else ``_UNREADABLE``."""
    key = None
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            if key is not None:  # sent twice: FastAPI decides which one counts
                return _UNREADABLE
            key = value.decode("latin-1")
            if not _KEY.fullmatch(key):
                return _UNREADABLE
    return key


def _valid(body_type: type[BaseModel], data: Any) -> BaseModel | None:
    try:
        return body_type.model_validate(data)
    except (ValidationError, RecursionError):
        return None


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """Every message received for the body, and the body (None if the client went away)."""
    received, chunks = [], []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return received, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return received, b"".join(chunks)


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """``receive``, giving back first the messages already received."""
    pending = list(received)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
