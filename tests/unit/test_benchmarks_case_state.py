"""What the performance changes rely on, checked on the in-memory store:

- snapshots (every 20 events) give back exactly the case the events give: ``vars()`` equal,
  tuples as tuples, for cases in every state and for a case of hundreds of events;
- a case from the cache is copied shallowly for a command: its attributes must be immutable
  values, and a command on the copy must leave the cached case alone;
- deadlines are written compactly in snapshots, and the former form is still read;
- ``closing()`` (rewritten to be cheap on cases with many deadlines) closes what the
  straightforward rule closes.
"""

from __future__ import annotations

import copy
import random
from dataclasses import replace
from datetime import date, timedelta

import pytest
from eventsourcing.application import Application

from application.cases import QualityMarkCases
from application.commands import ApprovePlan, JudgeEvidence, SubmitEvidence
from application.errors import VersionConflict
from application.transcodings import CaseTranscoder, DataclassAsDict
from benchmarks.simulation import long_case, simulate_case
from domain.case import Case
from domain.deadlines import Closure, Deadline, Obligation, closing
from domain.errors import ActionOutOfOrder
from tests.builders import (
    EXAMPLE_CODES,
    J_SMITH,
    LEAD_REVIEWER,
    ORGANISATION,
    evidence_rows,
    judgements,
)
from tests.integration.support import ctx, open_case_with_plan

TODAY = date(2026, 1, 5)


def submit_evidence(case_id) -> SubmitEvidence:
    return SubmitEvidence(case_id, evidence_rows(*EXAMPLE_CODES), J_SMITH,
                          signed_on=date(2009, 7, 1), received_on=date(2009, 7, 3))


def judge(case_id) -> JudgeEvidence:
    return JudgeEvidence(case_id, date(2009, 7, 24), judgements(EXAMPLE_CODES), "All now met.")
INTERVAL = QualityMarkCases.snapshotting_intervals[Case]


def memory_app() -> QualityMarkCases:
    return QualityMarkCases(env={"PERSISTENCE_MODULE": "eventsourcing.popo", "AGGREGATE_CACHE_MAXSIZE": ""})


def replayed(app: QualityMarkCases, case_id, version: int) -> Case:
    case = None
    for event in app.events.get(case_id, lte=version):
        case = event.mutate(case)
    assert case is not None
    return case


def simulated_cases(count: int) -> list[Case]:
    cases = []
    for index in range(count):
        case = None
        events = [event for _, event in simulate_case(index, TODAY, 3 * 365, seed=11)]
        for event in events:
            case = event.mutate(case)
        case._pending_events = events  # save them as the service would have
        cases.append(case)
    return cases


def test_every_state_is_covered_by_the_simulated_cases() -> None:
    states = {case.status.value for case in simulated_cases(400)}
    assert {"awaiting_plan", "plan_under_review", "awaiting_evidence", "awarded",
            "not_recommended", "recommended"} <= states


@pytest.mark.parametrize("events", [INTERVAL, 3 * INTERVAL + 7, 250])
def test_a_long_case_loaded_from_its_snapshots_equals_the_case_replayed(events: int) -> None:
    app = memory_app()
    case = long_case(events, TODAY)
    app.save(case)
    snapshots = [s.originator_version for s in app.snapshots.get(case.id)]
    assert snapshots == list(range(INTERVAL, events + 1, INTERVAL))
    for version in {events, events - 1, INTERVAL, min(events, INTERVAL + 1)}:
        loaded = app.get_case(case.id, version)
        assert vars(loaded) == vars(replayed(app, case.id, version)), version


def test_cases_in_every_state_survive_a_snapshot_unchanged() -> None:
    app = memory_app()
    for case in simulated_cases(120):
        app.save(case)
        app.take_snapshot(case.id)
        (snapshot,) = app.snapshots.get(case.id, desc=True, limit=1)
        loaded = app.get_case(case.id, snapshot.originator_version)  # from the snapshot alone
        live = replayed(app, case.id, case.version)
        assert vars(loaded) == vars(live), case.status
        assert all(type(value) is type(vars(live)[name]) for name, value in vars(loaded).items())


def test_a_case_holds_only_immutable_values_so_a_shallow_copy_is_private() -> None:
    for case in [*simulated_cases(60), long_case(45, TODAY)]:
        for name, value in vars(case).items():
            if name != "_pending_events":
                hash(value)  # raises TypeError for a list, dict or set anywhere inside


def test_a_command_on_a_cached_case_leaves_the_cache_unchanged() -> None:
    app = QualityMarkCases(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})  # with its cache
    case_id = open_case_with_plan(app)
    cached_before = app.get_case(case_id)
    app.execute(ApprovePlan(case_id, date(2009, 5, 29)), ctx(LEAD_REVIEWER))
    assert cached_before.status.value == "plan_under_review"
    assert app.get_case(case_id).status.value == "awaiting_evidence"
    first, second = app.get_case(case_id), app.get_case(case_id)
    assert first is not second and first._pending_events is not second._pending_events
    assert vars(first) == vars(second)


def test_deadlines_written_in_the_former_form_are_still_read() -> None:
    transcoder = CaseTranscoder()
    deadline = Deadline(Obligation.PLAN_REVIEW, date(2009, 5, 1), date(2009, 5, 15),
                        date(2009, 5, 12), Closure.MET)
    former = DataclassAsDict(Deadline)
    transcoder.register(former)  # write as before the compact form...
    old_bytes = transcoder.encode({"deadlines": (deadline,)})
    assert b'"_type_":"Deadline"' in old_bytes.replace(b" ", b"")
    reader = CaseTranscoder()  # ...and read with the transcoder as it is now
    assert reader.decode(old_bytes) == {"deadlines": (deadline,)}
    assert reader.decode(reader.encode({"deadlines": (deadline,)})) == {"deadlines": (deadline,)}


def _closing_as_it_was(deadlines, obligations, on, how):
    return tuple(d.close(on, how) if d.is_open and d.obligation in obligations else d for d in deadlines)


def test_closing_closes_exactly_what_the_straightforward_rule_closes() -> None:
    rng = random.Random(5)
    kinds = list(Obligation)
    for _ in range(300):
        deadlines = tuple(
            replace(Deadline(rng.choice(kinds), TODAY, TODAY + timedelta(days=14)),
                    **({} if rng.random() < 0.3 else {"closed_on": TODAY, "closure": Closure.MET}))
            for _ in range(rng.randint(0, 12)))
        chosen = tuple(rng.sample(kinds, rng.randint(0, 3)))
        how = rng.choice(list(Closure))
        assert closing(deadlines, chosen, TODAY, how) == _closing_as_it_was(deadlines, chosen, TODAY, how)


def _moved_on_behind_the_cache() -> tuple[QualityMarkCases, object]:
    """A case cached at version 2 (plan under review) that was approved (version 3) by
    someone else: recorded without going through this application's cache."""
    app = QualityMarkCases(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    case_id = open_case_with_plan(app)
    app.get_case(case_id)  # cached at version 2
    elsewhere = app.get_case(case_id, 2)  # a copy not from the cache
    ApprovePlan(case_id, date(2009, 5, 29)).apply_to(elsewhere, ctx(LEAD_REVIEWER))
    app.save(elsewhere)
    assert app.repository.cache.get(case_id).version == 2
    return app, case_id


def test_a_command_refused_on_a_stale_cached_case_runs_on_the_latest() -> None:
    app, case_id = _moved_on_behind_the_cache()
    result = app.execute(submit_evidence(case_id), ctx(ORGANISATION))
    assert result.version == 4
    assert [type(e).__name__ for e in app.history(case_id)][-2:] == ["PlanApproved", "EvidenceSubmitted"]


def test_a_command_allowed_on_a_stale_cached_case_is_decided_again_on_the_latest() -> None:
    app, case_id = _moved_on_behind_the_cache()
    with pytest.raises(ActionOutOfOrder):
        app.execute(ApprovePlan(case_id, date(2009, 5, 30)), ctx(LEAD_REVIEWER))
    assert len(app.history(case_id)) == 3


def test_an_expected_version_is_compared_with_the_latest_not_the_cached_case() -> None:
    app, case_id = _moved_on_behind_the_cache()
    assert app.execute(submit_evidence(case_id), ctx(ORGANISATION, expected_version=3)).version == 4
    with pytest.raises(VersionConflict):
        app.execute(judge(case_id), ctx(LEAD_REVIEWER, expected_version=3))


def test_saving_a_case_records_what_the_library_save_records() -> None:
    """``QualityMarkCases.save`` skips the library's runtime Protocol checks for one case: the
    same stored events, recordings, snapshots and cache as ``Application.save``."""
    ours, library = memory_app(), memory_app()
    case = long_case(3 * INTERVAL + 7, TODAY)
    twin = copy.copy(case)
    twin._pending_events = list(case._pending_events)  # the same events, to be saved again

    recordings = ours.save(case)
    library_recordings = Application.save(library, twin)

    def stored(app: QualityMarkCases) -> list[tuple]:
        return [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in app.recorder.select_notifications(1, 1_000)]
    assert stored(ours) == stored(library)
    assert [(r.notification.id, r.domain_event.originator_version) for r in recordings] == [
        (r.notification.id, r.domain_event.originator_version) for r in library_recordings]
    assert [s.originator_version for s in ours.snapshots.get(case.id)] == [
        s.originator_version for s in library.snapshots.get(case.id)] == [20, 40, 60]
    assert case.collect_events() == [] == twin.collect_events()


def test_saving_anything_but_one_case_is_the_library_save() -> None:
    app = memory_app()
    first, second = long_case(3, TODAY), simulated_cases(1)[0]
    app.save(first, second, None)
    assert [e.originator_version for e in app.events.get(first.id)] == [1, 2, 3]
    assert len(list(app.events.get(second.id))) == second.version
