"""Idempotency keys, recorded in the same transaction as the events they produced.

A repeated request with the same key and body returns the first answer and
records nothing new; the same key with another body is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first answer given to a request made with an idempotency key."""

    principal: str
    key: str
    request_hash: str
    case_id: UUID
    version: int


@runtime_checkable
class RecordsIdempotency(Protocol):
    """A recorder that stores idempotency records with events (``insert_events(..., idempotency=...)``)."""

    def find_idempotency_record(self, principal: str, key: str) -> IdempotencyRecord | None: ...


class InMemoryCaseRecorder(POPOApplicationRecorder):
    """The library's in-memory recorder, plus idempotency records under the same lock."""

    def __init__(self) -> None:
        super().__init__()
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        with self._database_lock:
            if record is not None and (record.principal, record.key) in self._idempotency:
                raise IntegrityError(f"idempotency key {record.key!r} already recorded")
            ids = super().insert_events(stored_events, **kwargs)
            if record is not None:
                self._idempotency[(record.principal, record.key)] = record
            return ids

    def find_idempotency_record(self, principal: str, key: str) -> IdempotencyRecord | None:
        with self._database_lock:
            return self._idempotency.get((principal, key))
