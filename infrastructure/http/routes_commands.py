"""The command routes: one per action of the process, each answering {case_id, version}.

No ``from __future__ import annotations`` here: the case-command endpoints are made
in a loop, and FastAPI must see each one's real body type, not a string naming it.

The endpoints are ``async`` and hand the command (which waits on PostgreSQL) to a worker
thread themselves, then answer with a ready ``JSONResponse``: FastAPI would otherwise
take two trips to its thread pool per command (the endpoint, then validating the answer
against ``response_model``, which stays for the API's description). Each trip costs a
thread switch and a wake-up of the event loop, which under load showed as much as the
command's own Python.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from application import commands as c
from application.authorization import Action, check_allowed
from application.cases import CommandResult, QualityMarkCases
from domain.deadlines import Obligation
from infrastructure.http import bodies as b
from infrastructure.http import bodies_evidence as be
from infrastructure.http.answers import CommandAnswer
from infrastructure.http.auth import Caller, may, may_command_case
from infrastructure.http.problems import error_responses

ANSWERED = "The case and its version after the command (a repeat: the first answer, unchanged)."
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"  # visible ASCII, as in the IETF Idempotency-Key draft


@dataclass(frozen=True)
class Guard:
    """The request's idempotency key and the hash that says whether a repeat is the same request."""

    key: str | None
    request_hash: str


async def request_guard(
    request: Request,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", pattern=KEY_PATTERN,
        description="Repeat a command safely: the same key and body return the first answer "
        "and record nothing; the same key with another body is refused (409).",
        examples=["7d1c8b1e-plan-2009-05-01"],
    )] = None,
) -> Guard:
    raw = await request.body()  # already read (and size-checked) by FastAPI
    return Guard(idempotency_key, request_hash(request.method, request.url.path,
                                               json.loads(raw) if raw else _NO_BODY))


_NO_BODY = object()


def request_hash(method: str, path: str, body: Any) -> str:
    """sha256 of method, path and the body (parsed JSON) as canonical JSON (sorted keys, no
    spaces), so a client re-serialising the same body differently still counts as a repeat."""
    text = "" if body is _NO_BODY else json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate ("\ud800" in JSON) must reach validation (422), not fail here.
    return hashlib.sha256(f"{method}\n{path}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()


# Headers of the answers, for the OpenAPI description (what ``answer`` and ``opened`` send).
REPLAYED = {"Idempotent-Replayed": {
    "description": "`true` when this answers a repeat of an earlier request with the same "
                   "`Idempotency-Key`: the first answer again, nothing new recorded.",
    "schema": {"type": "string", "enum": ["true"]}}}
NEW_CASE_AT = {"Location": {"description": "The new case's URL: `/cases/{case_id}`.",
                            "schema": {"type": "string"}}}


def command_routes(cases: QualityMarkCases, clock: Callable[[], date]) -> APIRouter:
    """Routes for every command; ``clock`` gives "today" to the domain's date checks."""
    router = APIRouter(tags=["commands"])
    refusals = {200: {"headers": REPLAYED}, **error_responses(400, 401, 403, 404, 409, 413, 415, 422, 503)}

    async def run(command: c.CaseCommand, who: Caller, guard: Guard, body: b.CommandBody) -> JSONResponse:
        return await executed(cases, command, c.CommandContext(
            who.actor, clock(), body.expected_version, guard.key, guard.request_hash))

    @router.post(
        "/cases", status_code=201, response_model=CommandAnswer, summary="Site visit held: open a case",
        response_description="The new case (its URL in Location) and its version, 1.",
        responses={201: {"headers": {**NEW_CASE_AT, **REPLAYED}},
                   **error_responses(400, 401, 403, 409, 413, 415, 422, 503)},
    )
    async def open_case(
        body: b.OpenCaseIn, who: Annotated[Caller, Depends(may(Action.OPEN_CASE))],
        guard: Annotated[Guard, Depends(request_guard)],
    ) -> JSONResponse:
        """Admin, or a lead reviewer naming themselves as the case's lead reviewer."""
        return await opened(cases, body, c.CommandContext(
            who.actor, clock(), None, guard.key, guard.request_hash))

    for path, action, body_type, summary in CASE_COMMANDS:
        _add_case_command(router, cases, run, path, action, body_type, summary, refusals)

    @router.post(
        "/cases/{case_id}/deadlines/{obligation}/extension", response_model=CommandAnswer,
        summary="Deadline extended (admin)", responses=refusals, response_description=ANSWERED,
    )
    async def extend_deadline(
        body: be.ExtensionIn,
        obligation: Annotated[Obligation, Path(description="The open obligation to move.")],
        who: Annotated[Caller, Depends(may_command_case(cases, Action.EXTEND_DEADLINE))],
        guard: Annotated[Guard, Depends(request_guard)],
    ) -> JSONResponse:
        """A CES administrator moves one open deadline later, saying why."""
        command = c.ExtendDeadline(who.case_id, obligation, body.new_due_on, body.reason)
        return await run(command, who, guard, body)

    return router


CASE_COMMANDS: tuple[tuple[str, Action, type[BaseModel], str], ...] = (
    ("/cases/{case_id}/plan", Action.SUBMIT_PLAN, b.PlanIn,
     "Plan submitted (the organisation, or an admin keying in post)"),
    ("/cases/{case_id}/plan/changes-requested", Action.REQUEST_CHANGES, b.ChangesRequestedIn,
     "Changes requested (the case's lead reviewer)"),
    ("/cases/{case_id}/plan/approval", Action.APPROVE_PLAN, b.ApprovalIn,
     "Plan approved (the case's lead reviewer)"),
    ("/cases/{case_id}/evidence", Action.SUBMIT_EVIDENCE, be.EvidenceIn,
     "Evidence submitted (the organisation, or an admin keying in post)"),
    ("/cases/{case_id}/evidence/further-details-request", Action.REQUEST_FURTHER_DETAILS,
     be.FurtherDetailsRequestIn, "Further details requested (the case's lead reviewer)"),
    ("/cases/{case_id}/evidence/further-details", Action.PROVIDE_FURTHER_DETAILS, be.FurtherDetailsIn,
     "Further details provided (the organisation, or an admin keying in post)"),
    ("/cases/{case_id}/evidence/judgement", Action.JUDGE_EVIDENCE, be.EvidenceJudgementIn,
     "Evidence judged (the case's lead reviewer)"),
    ("/cases/{case_id}/award", Action.AWARD_QUALITY_MARK, be.AwardIn, "Quality Mark awarded (admin)"),
)


def _add_case_command(
    router: APIRouter, cases: QualityMarkCases, run: Callable[..., Awaitable[JSONResponse]], path: str, action: Action,
    body_type: type[BaseModel], summary: str, responses: dict,
) -> None:
    async def endpoint(
        body: body_type,  # type: ignore[valid-type]
        who: Annotated[Caller, Depends(may_command_case(cases, action))],
        guard: Annotated[Guard, Depends(request_guard)],
    ) -> JSONResponse:
        return await run(body.command(who.case_id), who, guard, body)

    endpoint.__name__ = action.value
    endpoint.__doc__ = (body_type.__doc__ or summary).strip()
    router.add_api_route(
        path, endpoint, methods=["POST"], response_model=CommandAnswer, summary=summary,
        responses=responses, operation_id=action.value, response_description=ANSWERED,
    )


InThread = Callable[..., Awaitable[Any]]  # runs a blocking call in a worker thread


async def opened(cases: QualityMarkCases, body: b.OpenCaseIn, ctx: c.CommandContext,
                 in_thread: InThread = run_in_threadpool) -> JSONResponse:
    """What ``POST /cases`` does once its caller may open cases: the case opened (if this
    caller may open this one), and the answer."""
    command = body.command()
    check_allowed(ctx.actor, Action.OPEN_CASE, command)
    result = await in_thread(cases.open_case, command, ctx)
    return answer(result, status_code=201, headers={"Location": f"/cases/{result.case_id}"})


async def executed(cases: QualityMarkCases, command: c.CaseCommand, ctx: c.CommandContext,
                   in_thread: InThread = run_in_threadpool) -> JSONResponse:
    """What a command route does once its caller may act on the case: the command, and
    the answer."""
    return answer(await in_thread(cases.execute, command, ctx))


def answer(result: CommandResult, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """``CommandAnswer`` as JSON (built here: FastAPI does not re-validate a ready response)."""
    headers = dict(headers or {})
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse({"case_id": str(result.case_id), "version": result.version},
                        status_code=status_code, headers=headers)
