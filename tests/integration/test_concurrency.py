"""Two application instances (separate pools, as two processes would have) racing on
PostgreSQL: one winner per race, nothing lost or duplicated, notification ids in commit order."""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

import psycopg
import pytest

from application.cases import CommandResult, QualityMarkCases
from application.errors import VersionConflict
from domain.errors import ActionOutOfOrder
from tests.builders import ADMIN, LEAD_REVIEWER
from tests.integration.conftest import MakeApp
from tests.integration.support import approve, ctx, open_case_with_plan, site_visit, submit_plan

pytestmark = pytest.mark.integration

ROUNDS = 15


@pytest.fixture
def apps(make_app: MakeApp, migrated_database_url: str) -> list[QualityMarkCases]:
    return [make_app(migrated_database_url) for _ in range(2)]


def race(action: Callable[[QualityMarkCases], CommandResult], apps: list[QualityMarkCases]):
    """Run ``action`` on each app at once; return (results, errors)."""
    barrier = threading.Barrier(len(apps))
    results: list[CommandResult] = []
    errors: list[BaseException] = []

    def run(app: QualityMarkCases) -> None:
        barrier.wait()
        try:
            results.append(action(app))
        except BaseException as exc:  # the loser's refusal, checked by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def assert_versions_contiguous(app: QualityMarkCases, case_id: UUID, expected: list[str]) -> None:
    history = app.history(case_id)
    assert [e.originator_version for e in history] == list(range(1, len(expected) + 1))
    assert [type(e).__name__ for e in history] == expected


def test_two_approvals_of_one_plan_one_wins_the_other_is_out_of_order(apps) -> None:
    for round_ in range(ROUNDS):
        case_id = open_case_with_plan(apps[0])

        results, errors = race(lambda app, c=case_id: app.execute(approve(c), ctx(LEAD_REVIEWER)), apps)

        assert [r.version for r in results] == [3], f"round {round_}"
        assert len(errors) == 1 and isinstance(errors[0], ActionOutOfOrder | VersionConflict), errors
        for app in apps:
            assert_versions_contiguous(app, case_id, ["SiteVisitHeld", "PlanSubmitted", "PlanApproved"])


def test_two_commands_on_the_same_expected_version_one_wins_the_other_conflicts(apps) -> None:
    for round_ in range(ROUNDS):
        case_id = apps[0].open_case(site_visit(), ctx(ADMIN)).case_id
        guarded = ctx(ADMIN, expected_version=1)

        results, errors = race(lambda app, c=case_id, g=guarded: app.execute(submit_plan(c), g), apps)

        assert [r.version for r in results] == [2], f"round {round_}"
        assert len(errors) == 1 and isinstance(errors[0], VersionConflict | ActionOutOfOrder), errors
        assert_versions_contiguous(apps[1], case_id, ["SiteVisitHeld", "PlanSubmitted"])


@pytest.mark.parametrize("ways", [
    ("when_contended", "when_contended"), ("never", "never"), ("always", "always"), ("never", "always")])
def test_notification_ids_follow_commit_order_under_concurrent_writers(apps, ways) -> None:
    """A reader tailing the log never later finds an event below an id it has already passed
    (the property the library's EXCLUSIVE lock, here taken by our function, guarantees): with
    each way the recorder commits (``CasesRecorder.flush_outside_lock``: inside the lock, or
    flushing outside it), and with both at once (one application each way)."""
    for app, way in zip(apps, ways, strict=True):
        app.recorder.flush_outside_lock = way
    recorder = apps[0].recorder
    start = recorder.max_notification_id() or 0
    stop = threading.Event()
    polls: list[set[int]] = []
    errors: list[BaseException] = []

    def tail() -> None:
        try:
            while not stop.is_set():
                polls.append({n.id for n in recorder.select_notifications(start, 10_000, inclusive_of_start=False)})
        except BaseException as exc:
            errors.append(exc)

    def write(app: QualityMarkCases) -> None:
        try:
            for _ in range(8):
                open_case_with_plan(app)
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=tail)
    writers = [threading.Thread(target=write, args=(app,)) for app in apps * 2]
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()

    assert errors == []
    final = {n.id for n in recorder.select_notifications(start, 10_000, inclusive_of_start=False)}
    assert len(final) == 4 * 8 * 2
    for seen in polls:
        if seen:
            passed = {i for i in final if i <= max(seen)}
            assert passed == seen, f"ids {sorted(passed - seen)} committed after the reader passed them"
    cases = {n.originator_id for n in recorder.select_notifications(start, 10_000, inclusive_of_start=False)}
    for case_id in cases:
        assert_versions_contiguous(apps[0], case_id, ["SiteVisitHeld", "PlanSubmitted"])


def test_the_lock_function_honours_the_callers_lock_timeout(apps, migrated_database_url) -> None:
    """The recorder keeps the library's ``SET LOCAL lock_timeout`` before calling the function
    (in its lock statements, and in the append procedure: test_append_procedure.py): a writer
    stuck behind a held lock fails fast instead of queueing forever."""
    statements = [s.as_string() for s in apps[0].recorder.lock_table_statements]
    assert statements == ["SET LOCAL lock_timeout = '5s'", 'SELECT "public"."cases_lock_events"()']
    connect = psycopg.connect
    with connect(migrated_database_url) as holder, connect(migrated_database_url) as waiter:
        holder.execute("SELECT cases_lock_events()")
        waiter.execute("SET LOCAL lock_timeout = '100ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            waiter.execute("SELECT cases_lock_events()")
        # Readers are not blocked by the EXCLUSIVE lock.
        waiter.rollback()
        waiter.execute("SELECT count(*) FROM cases_events").fetchone()
