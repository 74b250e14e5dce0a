"""One application scenario, run in memory and on PostgreSQL (after migrate): the two
back ends must be indistinguishable to the application."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from uuid import uuid4

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder

from application.cases import QualityMarkCases
from application.errors import CaseNotFound, VersionNotFound
from domain.errors import ActionOutOfOrder
from infrastructure.bootstrap import bootstrap
from infrastructure.recorder import CasesRecorder
from infrastructure.settings import Settings
from tests.builders import ADMIN, LEAD_REVIEWER
from tests.integration.conftest import MakeApp
from tests.integration.support import EXAMPLE_JOURNEY, approve, ctx, run_example, site_visit

pytestmark = pytest.mark.integration


class ApplicationBackendContract(ABC):
    """The scenario; subclasses say which back end the application runs on."""

    @abstractmethod
    def build(self, make_app: MakeApp, request: pytest.FixtureRequest) -> QualityMarkCases:
        """An application on this back end."""

    @pytest.fixture
    def app(self, make_app: MakeApp, request: pytest.FixtureRequest) -> QualityMarkCases:
        return self.build(make_app, request)

    def test_the_guidance_example_from_site_visit_to_award(self, app: QualityMarkCases) -> None:
        case_id, results = run_example(app)

        assert [r.version for r in results] == list(range(1, 11))
        assert {r.case_id for r in results} == {case_id}
        case = app.get_case(case_id)
        assert case.version == 10
        assert case.status.value == "awarded"
        assert case.outcome is not None and case.outcome.recommendation.value == "recommended"
        assert [row.indicator for row in case.unmet_indicators] == ["3.1.4", "4.2.7"]
        assert case.plan_submissions == 2

    def test_history_is_in_order_with_who_did_what(self, app: QualityMarkCases) -> None:
        case_id, _ = run_example(app)

        history = app.history(case_id)

        assert [e.originator_version for e in history] == list(range(1, 11))
        assert [type(e).__name__ for e in history] == (
            ["SiteVisitHeld"] + [name for _, _, name, _ in EXAMPLE_JOURNEY]
        )
        assert [e.actor for e in history] == [ADMIN] + [actor for _, actor, _, _ in EXAMPLE_JOURNEY]

    def test_state_after_the_first_n_events(self, app: QualityMarkCases) -> None:
        case_id, _ = run_example(app)

        statuses = [app.get_case(case_id, version=n).status.value for n in range(1, 11)]

        assert statuses == ["awaiting_plan"] + [status for *_, status in EXAMPLE_JOURNEY]
        with pytest.raises(VersionNotFound):
            app.get_case(case_id, version=11)

    def test_a_refused_command_stores_nothing(self, app: QualityMarkCases) -> None:
        case_id = app.open_case(site_visit(), ctx(ADMIN)).case_id

        with pytest.raises(ActionOutOfOrder):
            app.execute(approve(case_id), ctx(LEAD_REVIEWER))  # no plan yet

        assert [type(e).__name__ for e in app.history(case_id)] == ["SiteVisitHeld"]
        assert app.get_case(case_id).version == 1

    def test_an_unknown_case_is_not_found(self, app: QualityMarkCases) -> None:
        with pytest.raises(CaseNotFound):
            app.get_case(uuid4())
        with pytest.raises(CaseNotFound):
            app.history(uuid4())


def bootstrapped(request: pytest.FixtureRequest, **options: object) -> QualityMarkCases:
    """The application as the service builds it (``bootstrap``), closed after the test."""
    service = bootstrap(configure_logs=False, **options)  # type: ignore[arg-type]
    request.addfinalizer(service.close)
    return service.cases


class TestInMemory(ApplicationBackendContract):
    def build(self, make_app: MakeApp, request: pytest.FixtureRequest) -> QualityMarkCases:
        return bootstrapped(request, settings=Settings(), in_memory=True)


class TestPostgres(ApplicationBackendContract):
    def build(self, make_app: MakeApp, request: pytest.FixtureRequest) -> QualityMarkCases:
        url = request.getfixturevalue("database_url")  # bootstrap() migrates it (again: idempotent)
        return bootstrapped(request, settings=Settings(database_url=url))

    def test_it_runs_on_our_recorder(self, app: QualityMarkCases) -> None:
        assert isinstance(app.recorder, CasesRecorder)

    def test_a_new_application_instance_reads_what_another_recorded(
        self, app: QualityMarkCases, make_app: MakeApp, migrated_database_url: str
    ) -> None:
        case_id, _ = run_example(app)

        other = make_app(migrated_database_url)

        assert other.get_case(case_id).status.value == "awarded"
        assert [e.originator_version for e in other.history(case_id)] == list(range(1, 11))

    def test_its_select_of_a_cases_events_answers_as_the_librarys_for_every_shape(
        self, app: QualityMarkCases
    ) -> None:
        case_id, _ = run_example(app)
        recorder = app.recorder
        assert isinstance(recorder, CasesRecorder)

        for gt, lte, desc, limit in itertools.product((None, 3), (None, 8), (False, True), (None, 2)):
            ours = recorder.select_events(case_id, gt=gt, lte=lte, desc=desc, limit=limit)
            librarys = PostgresApplicationRecorder.select_events(
                recorder, case_id, gt=gt, lte=lte, desc=desc, limit=limit)
            assert ours == librarys, (gt, lte, desc, limit)
            assert ours, (gt, lte, desc, limit)
        assert recorder.select_events(uuid4()) == []
