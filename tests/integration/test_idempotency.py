"""Idempotency keys on PostgreSQL: recorded with the events, durable, and race-safe."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from application.cases import CommandResult, QualityMarkCases
from application.errors import IdempotencyKeyReused
from application.idempotency import IdempotencyRecord
from domain.errors import CaseError
from infrastructure.recorder import CasesRecorder
from tests.builders import ADMIN, LEAD_REVIEWER
from tests.integration.conftest import MakeApp
from tests.integration.support import (
    VISIT_DATE,
    approve,
    ctx,
    open_case_with_plan,
    site_visit,
    submit_plan,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app: MakeApp, migrated_database_url: str) -> QualityMarkCases:
    return make_app(migrated_database_url)


def keyed(actor=ADMIN, key: str | None = None, body: str = "hash-1", **guards: object):
    return ctx(actor, idempotency_key=key or f"key-{uuid4()}", request_hash=body, **guards)


def test_the_same_key_and_body_gives_the_first_answer_and_records_nothing_new(
    app: QualityMarkCases,
) -> None:
    request = keyed()
    first = app.open_case(site_visit(), request)
    last_id = app.recorder.max_notification_id()

    again = app.open_case(site_visit(), request)

    assert again == CommandResult(first.case_id, first.version, replayed=True)
    assert app.recorder.max_notification_id() == last_id


def test_the_first_answer_survives_a_new_application_instance(
    app: QualityMarkCases, make_app: MakeApp, migrated_database_url: str
) -> None:
    case_id = open_case_with_plan(app)
    request = keyed(LEAD_REVIEWER)
    first = app.execute(approve(case_id), request)

    restarted = make_app(migrated_database_url)
    again = restarted.execute(approve(case_id), request)

    assert (again.case_id, again.version, again.replayed) == (case_id, first.version, True)
    assert [type(e).__name__ for e in restarted.history(case_id)].count("PlanApproved") == 1


def test_the_same_key_with_another_body_is_refused(app: QualityMarkCases) -> None:
    case_id = open_case_with_plan(app)
    key = f"key-{uuid4()}"
    app.execute(approve(case_id), keyed(LEAD_REVIEWER, key, body="hash-1"))

    with pytest.raises(IdempotencyKeyReused):
        app.execute(approve(case_id), keyed(LEAD_REVIEWER, key, body="hash-2"))


def test_keys_belong_to_their_principal(app: QualityMarkCases) -> None:
    key = f"key-{uuid4()}"
    first = app.open_case(site_visit(), keyed(ADMIN, key))
    other = app.open_case(site_visit(), keyed(LEAD_REVIEWER, key))

    assert other.case_id != first.case_id and not other.replayed


def test_two_threads_racing_with_the_same_key_record_once(
    make_app: MakeApp, migrated_database_url: str
) -> None:
    apps = [make_app(migrated_database_url) for _ in range(2)]
    conflicts = [_count_conflicts(app) for app in apps]
    for attempt in range(10):
        case_id = open_case_with_plan(apps[0])
        # Both decide on the case they hold, as two workers that served it before do: one
        # loading it first would mostly find it approved already, and the race never happen.
        apps[1].get_case(case_id)
        request = keyed(ADMIN, f"race-{attempt}-{uuid4()}")
        results = _race(lambda app, c=case_id, r=request: app.execute(approve(c), r), apps)

        assert {(r.case_id, r.version) for r in results} == {(case_id, 3)}
        assert sorted(r.replayed for r in results) == [False, True]
        history = [type(e).__name__ for e in apps[1].history(case_id)]
        assert history == ["SiteVisitHeld", "PlanSubmitted", "PlanApproved"]
    # Both requests got past the first look-up at least once: the key's primary key decided.
    assert sum(len(c) for c in conflicts) > 0


def test_two_threads_opening_a_case_with_the_same_key_open_one(
    make_app: MakeApp, migrated_database_url: str
) -> None:
    apps = [make_app(migrated_database_url) for _ in range(2)]
    for attempt in range(10):
        request = keyed(ADMIN, f"open-{attempt}-{uuid4()}")
        results = _race(lambda app, request=request: app.open_case(site_visit(), request), apps)

        assert len({r.case_id for r in results}) == 1, f"attempt {attempt}"
        assert sorted(r.replayed for r in results) == [False, True]
        assert apps[0].recorder.find_idempotency_record(ADMIN.principal, request.idempotency_key)


def _race(action, apps: list[QualityMarkCases]) -> list[CommandResult]:
    barrier = threading.Barrier(len(apps))
    results: list[CommandResult] = []
    errors: list[BaseException] = []

    def run(app: QualityMarkCases) -> None:
        try:
            barrier.wait()
            results.append(action(app))
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _count_conflicts(app: QualityMarkCases) -> list[IntegrityError]:
    seen: list[IntegrityError] = []
    insert_events = app.recorder.insert_events

    def counting(*args, **kwargs):
        try:
            return insert_events(*args, **kwargs)
        except IntegrityError as exc:
            seen.append(exc)
            raise

    app.recorder.insert_events = counting  # type: ignore[method-assign]
    return seen


def test_a_save_that_fails_keeps_no_key(app: QualityMarkCases) -> None:
    """The key is inserted in the events' transaction: a conflicting save rolls it back."""
    recorder = app.recorder
    assert isinstance(recorder, CasesRecorder)
    case_id = app.open_case(site_visit(), ctx(ADMIN)).case_id
    (stored,) = recorder.select_events(case_id)  # version 1 is taken: inserting it conflicts
    record = IdempotencyRecord(ADMIN.principal, f"key-{uuid4()}", "h", case_id, 1)

    with pytest.raises(IntegrityError):
        recorder.insert_events([stored], idempotency=record)

    assert recorder.find_idempotency_record(record.principal, record.key) is None


def test_a_key_recorded_twice_raises_integrity_error_and_keeps_no_events(
    app: QualityMarkCases,
) -> None:
    recorder = app.recorder
    assert isinstance(recorder, CasesRecorder)
    record = IdempotencyRecord("p", f"key-{uuid4()}", "h", uuid4(), 1)
    recorder.insert_events([_event(record.case_id)], idempotency=record)
    loser = uuid4()

    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(loser)], idempotency=record)

    assert recorder.select_events(loser) == []
    assert recorder.find_idempotency_record("p", record.key) == record


def _event(originator_id) -> StoredEvent:
    return StoredEvent(originator_id, 1, "tests:Topic", b"{}")


def test_plan_submission_with_a_key_is_replayed_too(app: QualityMarkCases) -> None:
    case_id = app.open_case(site_visit(), ctx(ADMIN)).case_id
    request = keyed(ADMIN)
    first = app.execute(submit_plan(case_id), request)

    assert app.execute(submit_plan(case_id), request).replayed
    assert app.get_case(case_id).version == first.version == 2


# Keys are not looked up before a command (one round trip fewer): a repeat is caught by the
# save (the key is taken) or by the rules (the case moved on); only then is it looked up.


def test_a_key_reused_to_open_another_case_is_refused_and_opens_nothing(app: QualityMarkCases) -> None:
    key = f"key-{uuid4()}"
    app.open_case(site_visit(), keyed(ADMIN, key, body="hash-1"))
    last_id = app.recorder.max_notification_id()

    with pytest.raises(IdempotencyKeyReused):
        app.open_case(site_visit(), keyed(ADMIN, key, body="hash-2"))
    assert app.recorder.max_notification_id() == last_id


def test_a_repeat_the_rules_would_now_refuse_still_gets_the_first_answer(app: QualityMarkCases) -> None:
    # given a site visit recorded with a key
    request = keyed(ADMIN)
    first = app.open_case(site_visit(), request)
    # when the same request comes again, judged on a day the rules refuse it (the visit
    # would then be in the future)
    earlier = replace(request, today=VISIT_DATE - timedelta(days=1))
    again = app.open_case(site_visit(), earlier)
    # then it is the first answer, and nothing is recorded
    assert again == CommandResult(first.case_id, first.version, replayed=True)


def test_a_command_refused_by_the_rules_without_a_recorded_key_is_refused(app: QualityMarkCases) -> None:
    case_id = open_case_with_plan(app)
    app.execute(approve(case_id), keyed(LEAD_REVIEWER))

    with pytest.raises(CaseError):
        app.execute(approve(case_id), keyed(LEAD_REVIEWER))  # another key: a real second approval
