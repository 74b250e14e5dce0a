"""QualityMarkCases: the application that records and answers for improvement cases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Recording,
    Transcoder,
)
from eventsourcing.popo import POPOApplicationRecorder

from application.commands import CaseCommand, CommandContext, HoldSiteVisit
from application.decoding import CaseMapper
from application.errors import (
    CaseNotFound,
    IdempotencyKeyReused,
    VersionConflict,
    VersionNotFound,
)
from application.idempotency import IdempotencyRecord, InMemoryCaseRecorder, RecordsIdempotency
from application.loggers import logger
from application.transcodings import CaseTranscoder
from domain.case import Case
from domain.errors import CaseError

log = logger(__name__)  # assembled once per configuration: a line at every command

# A command without an expected version that loses a race is re-run on the fresh
# state a few times (it may then be refused as out of order); with one, it is a conflict.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the case and its new version (``replayed`` for a repeated key)."""

    case_id: UUID
    version: int
    replayed: bool = False


def _project(case: Case | None, events: Iterable[Case.Event]) -> Case | None:
    """The library's ``project_aggregate`` without its per-event ``assert isinstance(event,
    CanMutateProtocol)``: a runtime Protocol check, about a quarter of replaying a case."""
    for event in events:
        case = event.mutate(case)
    return case


class QualityMarkCases(Application[UUID]):
    """Records every action on a case as events, and rebuilds cases from them."""

    name = "cases"  # tables cases_events, cases_snapshots; env prefix CASES_
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000"}
    # A snapshot every 20 events (taken after the save that reaches the version): a case
    # loads from its latest snapshot plus at most 19 events. Most cases never get one; a
    # case of 1,000 events loads in a few milliseconds instead of ~50 (BENCHMARKS.md).
    snapshotting_intervals = {Case: 20}
    snapshotting_projectors = {Case: _project}

    def construct_transcoder(self) -> Transcoder:
        return CaseTranscoder()

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, decoding in about half the time (``CaseMapper``), unless
        the environment names another (``MAPPER_TOPIC``)."""
        chosen = CaseMapper if not self.factory.env.get(InfrastructureFactory.MAPPER_TOPIC) else None
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=chosen)

    def construct_recorder(self) -> ApplicationRecorder:
        recorder = super().construct_recorder()
        if type(recorder) is POPOApplicationRecorder:
            return InMemoryCaseRecorder()
        return recorder

    def save(self, *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
             **kwargs: Any) -> list[Recording[UUID]]:
        """The library's ``save()``; for one case, without the runtime Protocol checks of its
        ``ProcessingEvent.collect_events`` (is the object an event? can it collect events?),
        which look at every attribute of the class: a tenth of a command's Python time."""
        if len(objs) != 1 or type(objs[0]) is not Case:
            return super().save(*objs, **kwargs)
        (case,) = objs
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events.extend(case.collect_events())
        processing.aggregates[case.id] = case
        processing.saved_kwargs.update(kwargs)
        # From here on, as the library's save() does.
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # deprecated by the library, still called by its save()
        return recordings

    # ---- commands ------------------------------------------------------------------------

    def open_case(self, cmd: HoldSiteVisit, ctx: CommandContext) -> CommandResult:
        """Site visit held: open a case.

        A repeated idempotency key is found when the save fails on it (see ``execute``)."""
        try:
            case = cmd.open_case(ctx)
        except CaseError:
            # A repeat of a request recorded days ago may fail today's date checks: the
            # first answer stands (and another body under the key is IdempotencyKeyReused).
            replayed = self._first_answer(ctx)
            if replayed:
                return replayed
            raise
        try:
            self._save(case, ctx)
        except IntegrityError:
            replayed = self._first_answer(ctx)  # the key was recorded: a repeat
            if replayed:
                return replayed
            raise
        self._remember(case)
        log.info("case_opened", case_id=str(case.id), level=case.level, unmet=len(case.unmet_indicators))
        return CommandResult(case.id, case.version)

    def execute(self, cmd: CaseCommand, ctx: CommandContext) -> CommandResult:
        """Run one command on an existing case: load, check the guards, decide, save.

        The first attempt decides on the cached case without asking the database whether
        it moved on: if it did (another process wrote), the decision cannot be recorded (its
        version is taken: IntegrityError) and the command runs again on the latest case; a
        refusal is only given on the latest case. Saves a round trip per command.

        An idempotency key is not looked up first either: a new key (nearly every one) is
        simply recorded with the events. A repeated request fails, either on the key, which
        the save records with the events (IntegrityError), or on the domain's rules or the
        expected version (the case has moved on because of the first request): only then is
        the first answer looked up, and given. Saves another round trip per command."""
        latest = False
        for _ in range(MAX_ATTEMPTS):
            case, latest = self._case_for_command(cmd.case_id, latest)
            try:
                if ctx.expected_version is not None and case.version != ctx.expected_version:
                    raise VersionConflict(cmd.case_id, ctx.expected_version, case.version)
                cmd.apply_to(case, ctx)
            except (VersionConflict, CaseError):
                if not latest:  # decided on the cached case: look at the latest first
                    latest = True
                    continue
                # If this repeats a recorded request, the case moved on because of it, and
                # its first answer is the answer.
                replayed = self._first_answer(ctx)
                if replayed:
                    return replayed
                raise
            try:
                self._save(case, ctx)
            except IntegrityError:
                replayed = self._first_answer(ctx)  # the key was recorded: a repeat
                if replayed:
                    return replayed
                if ctx.expected_version is not None:
                    raise VersionConflict(cmd.case_id, ctx.expected_version, None) from None
                log.info("command_retried_after_conflict", case_id=str(cmd.case_id))
                latest = True
                continue
            self._remember(case)
            log.info("command_recorded", command=type(cmd).__name__, case_id=str(case.id), version=case.version)
            return CommandResult(case.id, case.version)
        raise VersionConflict(cmd.case_id, None, None)

    # ---- queries -------------------------------------------------------------------------

    def get_case(self, case_id: UUID, version: int | None = None) -> Case:
        """The case now, or after its first ``version`` events."""
        if version is not None and version < 1:
            raise VersionNotFound(case_id, version, self._latest_version(case_id))
        try:
            case = self.repository.get(
                case_id, version=version, projector_func=_project, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            raise CaseNotFound(case_id) from None
        if version is not None and case.version < version:
            raise VersionNotFound(case_id, version, case.version)
        return _private_copy(case) if version is None else case

    def cached_case(self, case_id: UUID) -> Case | None:
        """The case as this process last saw it, if its cache holds it (no database call).

        Only for checking what a case fixes when it opens (its organisation and lead
        reviewer), never for saying what it is now; and it is the cached object itself:
        never change it."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(case_id)
        except KeyError:
            return None

    def history(self, case_id: UUID) -> Sequence[Case.Event]:
        """The case's events, oldest first."""
        events = list(self.events.get(case_id))
        if not events:
            raise CaseNotFound(case_id)
        return events

    # ---- helpers ---------------------------------------------------------------------------

    def _save(self, case: Case, ctx: CommandContext) -> None:
        kwargs: dict[str, Any] = {}
        if ctx.idempotency_key is not None:
            kwargs["idempotency"] = IdempotencyRecord(
                ctx.actor.principal, ctx.idempotency_key, ctx.request_hash or "", case.id, case.version
            )
        self.save(case, **kwargs)

    def _case_for_command(self, case_id: UUID, latest: bool) -> tuple[Case, bool]:
        """A private copy of the cached case (and False), or of the latest one (and True)."""
        cached = None if latest else self.cached_case(case_id)
        if cached is not None:
            return _private_copy(cached), False
        return self.get_case(case_id), True

    def _remember(self, case: Case) -> None:
        """Cache a case just recorded (the library caches only what it loads), unless the
        cache already holds a later version."""
        cache = self.repository.cache
        cached = self.cached_case(case.id)
        if cache is not None and (cached is None or cached.version < case.version):
            cache.put(case.id, case)

    def _first_answer(self, ctx: CommandContext) -> CommandResult | None:
        if ctx.idempotency_key is None:
            return None
        if not isinstance(self.recorder, RecordsIdempotency):
            raise TypeError(f"{type(self.recorder).__name__} cannot record idempotency keys")
        record = self.recorder.find_idempotency_record(ctx.actor.principal, ctx.idempotency_key)
        if record is None:
            return None
        if record.request_hash != (ctx.request_hash or ""):
            raise IdempotencyKeyReused(ctx.idempotency_key)
        return CommandResult(record.case_id, record.version, replayed=True)

    def _latest_version(self, case_id: UUID) -> int:
        events = list(self.events.get(case_id, desc=True, limit=1))
        if not events:
            raise CaseNotFound(case_id)
        return events[0].originator_version


def _private_copy(case: Case) -> Case:
    """A copy of a cached case that a command may change without changing the cache.

    The library deep-copies (measured at over half of a command's Python time); a shallow
    copy is enough because a case's attributes are immutable values (frozen dataclasses,
    tuples, enums, dates), which events replace, never change in place; only the list of
    pending events is the copy's own. tests/unit/test_benchmarks_case_state.py checks both."""
    copy = object.__new__(type(case))
    vars(copy).update(vars(case))
    copy._pending_events = list(case._pending_events)
    return copy
