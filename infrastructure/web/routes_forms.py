"""The forms' pages: GET shows the form, POST checks the CSRF token, the role and the case,
then runs the command through ``QualityMarkCases`` as the signed-in user, exactly as the
JSON API does. A refusal shows the form again, as typed, with each message by its field."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import Any

import structlog
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from application.authorization import Action, check_allowed, check_role
from application.commands import CommandContext
from application.errors import IdempotencyKeyReused, NotAllowed, VersionConflict
from domain.case import Case
from domain.errors import ActionOutOfOrder, CaseError
from infrastructure.http.auth import parse_case_id
from infrastructure.web.context import Web
from infrastructure.web.form_specs import ADD_ROW, OPEN_CASE, PLAN_FORMS
from infrastructure.web.form_specs_evidence import EVIDENCE_FORMS
from infrastructure.web.forms import FormSpec, Placed, Values, place, validation_errors
from infrastructure.web.sessions import Session
from infrastructure.whole_numbers import whole_number

log = structlog.get_logger(__name__)
CASE_FORMS = PLAN_FORMS + EVIDENCE_FORMS
GUARDS = ("expected_version", "idempotency_key")
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def form_routes(web: Web) -> APIRouter:
    """GET and POST routes for opening a case and for every action on one."""
    router = APIRouter(prefix="/ui")

    @router.get("/cases/new", name="open_case_form")
    def show_open(request: Request) -> Response:
        session = web.auth.require(request)
        check_role(session.actor, Action.OPEN_CASE)
        values = OPEN_CASE.initial(None, session.actor, web.clock()) | {"idempotency_key": secrets.token_urlsafe(18)}
        return _render(web, request, session, OPEN_CASE, None, values, Placed())

    @router.post("/cases/new")
    async def submit_open(request: Request) -> Response:
        session = await run_in_threadpool(web.auth.require, request)
        values = _values(await web.auth.form(request, session))
        check_role(session.actor, Action.OPEN_CASE)
        return await run_in_threadpool(_submit, web, request, session, OPEN_CASE, None, values)

    for spec in CASE_FORMS:
        _add(router, web, spec)
    return router


def _add(router: APIRouter, web: Web, spec: FormSpec) -> None:
    def show(request: Request, case_id: str) -> Response:
        session = web.auth.require(request)
        case = _case_for(web, session, spec, case_id)
        values = spec.initial(case, session.actor, web.clock()) | {
            "expected_version": str(case.version), "idempotency_key": secrets.token_urlsafe(18)}
        return _render(web, request, session, spec, case, values, Placed())

    async def submit(request: Request, case_id: str) -> Response:
        session = await run_in_threadpool(web.auth.require, request)
        values = _values(await web.auth.form(request, session))
        case = await run_in_threadpool(_case_for, web, session, spec, case_id)
        return await run_in_threadpool(_submit, web, request, session, spec, case, values)

    path = f"/cases/{{case_id}}/{spec.path}"
    router.add_api_route(path, show, methods=["GET"], name=f"{spec.action.value}_form")
    router.add_api_route(path, submit, methods=["POST"], name=spec.action.value)


def _case_for(web: Web, session: Session, spec: FormSpec, case_id: str) -> Case:
    """The role first, then the case, then whether it is this user's to act on (as the API)."""
    check_role(session.actor, spec.action)
    case = web.cases.get_case(parse_case_id(case_id))
    check_allowed(session.actor, spec.action, case)
    return case


def _values(form: Any) -> Values:
    return {name: value for name, value in form.multi_items() if isinstance(value, str)}


def _submit(web: Web, request: Request, session: Session, spec: FormSpec, case: Case | None,
            values: Values) -> Response:
    if values.get(ADD_ROW):
        return _render(web, request, session, spec, case, values, Placed())
    body, renames = spec.to_body(values, case)
    version = whole_number(values.get("expected_version", ""), max_digits=9)
    if version is not None:
        body["expected_version"] = version
    status, errors = 422, []
    try:
        result = _run(web, session, spec, case, body, values, request.url.path)
    except ValidationError as error:
        errors = validation_errors(error)
    except ActionOutOfOrder as error:
        status, errors = 409, [(error.field, error.message)]
    except CaseError as error:
        errors = [(error.field, error.message)]
    except NotAllowed as error:  # opening a case for another lead reviewer
        status, errors = 403, [("lead_reviewer", str(error))]
    except VersionConflict:
        status = 409
        if case is None:  # not for a new case: nothing to have changed
            errors = [(None, "The case changed while this form was open. Reload the case and try again.")]
        else:
            # What was typed stays; the form now answers to the case as it is, so that once
            # checked against the case page it can be sent again as it is.
            values = {**values, "expected_version": str(case.version)}
            errors = [(None, f"The case changed while this form was open (it is now at version "
                             f"{case.version}). Check what you typed against the case, then send it again.")]
    except IdempotencyKeyReused as error:
        status, errors = 409, [(None, str(error))]
    else:
        log.info("web_command_recorded", action=spec.action.value, case_id=str(result.case_id), version=result.version)
        return RedirectResponse(f"/ui/cases/{result.case_id}?recorded={spec.action.value}", status_code=303)
    log.info("command_refused", action=spec.action.value, fields=[field for field, _ in errors], status=status)
    placed = place(errors, spec.layout(case, values), renames)
    return _render(web, request, session, spec, case, values, placed, status=status)


def _run(web: Web, session: Session, spec: FormSpec, case: Case | None, body: dict[str, Any],
         values: Values, path: str) -> Any:
    model = spec.body.model_validate(body)
    command = spec.command(model, case, values)
    key = values.get("idempotency_key", "")
    digest = hashlib.sha256(f"{path}\n{json.dumps(body, sort_keys=True, default=str)}".encode()).hexdigest()
    ctx = CommandContext(session.actor, web.clock(), body.get("expected_version"),
                         key if _KEY.fullmatch(key) else None, digest)
    if case is None:
        check_allowed(session.actor, Action.OPEN_CASE, command)
        return web.cases.open_case(command, ctx)
    return web.cases.execute(command, ctx)


def _render(web: Web, request: Request, session: Session, spec: FormSpec, case: Case | None,
            values: Values, placed: Placed, status: int = 200) -> Response:
    groups = spec.layout(case, values)
    labels = {f.name: f.label for g in groups for f in g.fields} | {g.name: g.legend for g in groups if g.name}
    return web.pages.render(
        request, "form.html", session=session, status=status, spec=spec, case=case, groups=groups,
        values=values, errors=placed.by_name, summary=[(name, labels.get(name, ""), m) for name, m in placed.summary],
        guards={name: values.get(name, "") for name in GUARDS}, add_row=ADD_ROW if case is None else None,
    )
