"""Point 4: schemathesis fuzzes every operation of /openapi.json (in process, on PostgreSQL):
no input, however odd, gets a 500, and every error is a problem document.

Bounded: a fixed number of examples per operation, no shrinking beyond hypothesis' default
budget; the whole module takes well under a minute on two cores.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from application.cases import QualityMarkCases
from infrastructure.bootstrap import application_env
from infrastructure.http import create_api
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore, TokenStore
from tests.builders import ADMIN
from tests.databases import migrated_database
from tests.integration.support import EXAMPLE_JOURNEY, ctx, site_visit
from tests.reliability.support import PROBLEM_JSON

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES_PER_OPERATION = 40
ROLES = (("admin", "ces-admin-1"), ("lead_reviewer", "reviewer-1"), ("organisation", "org-1"))


@pytest.fixture(scope="module")
def service(postgres_server_url: str) -> Iterator[tuple[object, dict[str, str]]]:
    with migrated_database(postgres_server_url, "pqasso_rel_fuzz") as url:
        cases = QualityMarkCases(env=application_env(url))
        # Cases at every stage, so generated commands meet real cases as well as unknown ids.
        for stage in range(0, len(EXAMPLE_JOURNEY) + 1, 2):
            case_id = cases.open_case(site_visit(), ctx(ADMIN)).case_id
            for command, actor, _, _ in EXAMPLE_JOURNEY[:stage]:
                cases.execute(command(case_id), ctx(actor))
            _REAL_CASES.append(str(case_id))
        tokens = TokenStore(url)
        headers = {role: f"Bearer {tokens.add(role, principal)}" for role, principal in ROLES}
        read_side = EventStoreDeadlines(cases)
        app = create_api(cases, tokens, read_side, read_side, clock=lambda: date(2009, 12, 31))
        yield app, headers
        tokens.close()
        cases.close()


# The document is the same whatever the app stands on: read it from an in-memory app at import
# (schemathesis' lazy fixture loader does not work with pytest 9.2), call the real one.
_MEMORY = QualityMarkCases()
schema = schemathesis.openapi.from_dict(create_api(
    _MEMORY, InMemoryTokenStore(), EventStoreDeadlines(_MEMORY), EventStoreDeadlines(_MEMORY)).openapi())


# Mostly an admin (who may do most things), in turn the other roles, and now and then no token.
_CALLERS = itertools.cycle(("admin", "admin", "admin", "lead_reviewer", "organisation", None))
_REAL, _PICK = itertools.cycle((True, True, False)), itertools.count()
_REAL_CASES: list[str] = []


def errors_are_problems(ctx, response, case) -> None:
    """Every 4xx/5xx answer is RFC 9457 problem details."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith(PROBLEM_JSON), (response.status_code, content_type)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
def test_no_generated_request_gets_a_500(case, service) -> None:
    app, headers = service
    role = next(_CALLERS)
    if case.path_parameters and "case_id" in case.path_parameters and next(_REAL):
        case.path_parameters["case_id"] = _REAL_CASES[next(_PICK) % len(_REAL_CASES)]
    extra = {"Authorization": headers[role]} if role else {}
    case.call_and_validate(
        app=app, headers=extra,
        checks=[schemathesis.checks.not_a_server_error],
        additional_checks=[errors_are_problems],
    )
