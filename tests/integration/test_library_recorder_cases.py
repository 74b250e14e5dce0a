"""The eventsourcing library's own recorder test cases, run against ``CasesRecorder`` (and our
factory wiring) on a fresh, migrated database per test: our overrides must keep every
guarantee the library tests for its PostgreSQL recorder.

The modules are imported, not the classes, so pytest does not collect the abstract bases.
"""

from __future__ import annotations

import pytest
from eventsourcing.persistence import ProcessRecorder, TrackingRecorder
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.tests import persistence as library_cases
from eventsourcing.utils import Environment

from infrastructure.bootstrap import application_env
from infrastructure.recorder import CasesRecorder, FlushOutsideLock
from infrastructure.settings import parse_database_url

pytestmark = pytest.mark.integration


class FreshDatabase:
    """Gives each test a new migrated database and a datastore on it (pool >= 12 connections:
    ``test_concurrent_no_conflicts`` runs ten writers and two readers)."""

    url: str
    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _fresh_database(self, fresh_migrated_url: str):
        self.url = fresh_migrated_url
        parts = parse_database_url(fresh_migrated_url)
        self.datastore = PostgresDatastore(
            parts.dbname, parts.host, parts.port, parts.user, parts.password or "",
            pool_size=12, max_overflow=4, lock_timeout=10,
        )
        yield
        self.datastore.close()


class TestCasesApplicationRecorder(FreshDatabase, library_cases.ApplicationRecorderTestCase):
    def create_recorder(self) -> CasesRecorder:
        # Tables come from migrate(), as in production (CREATE_TABLE=false).
        return CasesRecorder(self.datastore, events_table_name="cases_events")

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestCasesNonInterleavingNotificationIDs(
    FreshDatabase, library_cases.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> CasesRecorder:
        return CasesRecorder(self.datastore, events_table_name="cases_events")


# The recorder commits two ways (CasesRecorder.flush_outside_lock): by default it chooses as
# saves contend for the table lock; each way on its own must keep every guarantee too.
def committing(case: type, flush_outside_lock: FlushOutsideLock) -> type:
    def create_recorder(self) -> CasesRecorder:  # type: ignore[no-untyped-def]
        recorder = case.create_recorder(self)
        recorder.flush_outside_lock = flush_outside_lock
        return recorder
    return type(f"{case.__name__}_{flush_outside_lock}", (case,), {"create_recorder": create_recorder})


TestCasesApplicationRecorderFlushingInsideTheLock = committing(TestCasesApplicationRecorder, "never")
TestCasesApplicationRecorderFlushingOutsideTheLock = committing(TestCasesApplicationRecorder, "always")
TestCasesNonInterleavingNotificationIDsFlushingInsideTheLock = committing(
    TestCasesNonInterleavingNotificationIDs, "never")
TestCasesNonInterleavingNotificationIDsFlushingOutsideTheLock = committing(
    TestCasesNonInterleavingNotificationIDs, "always")


class TestSnapshotsRecorder(FreshDatabase, library_cases.AggregateRecorderTestCase):
    """The snapshots table as migrated (with its no-UPDATE trigger) still works for the library."""

    def create_recorder(self) -> PostgresAggregateRecorder:
        return PostgresAggregateRecorder(self.datastore, events_table_name="cases_snapshots")


class TestCasesInfrastructureFactory(
    FreshDatabase, library_cases.InfrastructureFactoryTestCase[PostgresFactory]
):
    """``application_env()`` selects our recorder through the library's factory."""

    def setUp(self) -> None:
        env = {**application_env(self.url), "CREATE_TABLE": "y"}
        self.env = Environment("cases", env)
        super().setUp()

    def expected_factory_class(self) -> type[PostgresFactory]:
        return PostgresFactory

    def expected_aggregate_recorder_class(self) -> type[PostgresAggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[CasesRecorder]:
        return CasesRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return type("MyTrackingRecorder", (PostgresTrackingRecorder,), {})

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder
