"""What the HTTP API needs from the rest of the service, as small protocols.

The API is built against these, not against the projection or token modules, so
tests can hand it in-memory fakes while the application itself runs for real.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable

from domain.participants import Actor


class Authenticator(Protocol):
    """Turns a bearer token into the principal it speaks for (TokenStore, InMemoryTokenStore)."""

    def authenticate(self, token: str) -> Actor | None: ...


class AuthenticatesHashes(Authenticator, Protocol):
    """An authenticator that also answers for a token's SHA-256 (``tokens.token_hash``), for
    callers that keep only the hash: a browser session re-checks it on every request, so a
    revoked token ends the session (TokenStore, InMemoryTokenStore)."""

    def authenticate_hash(self, digest: str) -> Actor | None: ...


@runtime_checkable
class RemembersTokens(Protocol):
    """An authenticator that can answer for recently checked tokens without any I/O
    (``TokenStore(remember_for=...)``): the request then needs no worker thread for it."""

    def remembered(self, token: str) -> Actor | None: ...


class OverdueQueries(Protocol):
    """The deadline read model: obligations overdue on a day.

    Items are mappings or objects with ``case_id``, ``organisation`` {id, name},
    ``obligation``, ``owed_by``, ``due_on``, ``days_overdue`` and ``lead_reviewer``.
    """

    def overdue_on(self, day: date) -> Sequence[Any]: ...


@runtime_checkable
class UpcomingQueries(Protocol):
    """The deadline read model: obligations open on ``day`` and due within ``days`` after it.

    Items are shaped like overdue items, with ``days_left`` in place of ``days_overdue``.
    """

    def upcoming(self, day: date, days: int) -> Sequence[Any]: ...


@runtime_checkable
class DeadlineListsAsJson(Protocol):
    """A deadline read model that also writes its lists as the API answers them: the JSON of
    ``overdue_on`` and ``upcoming`` items, fields and order as the answer models write them
    (``PostgresDeadlinesView``). The routes then pass it on as it is."""

    def overdue_json(self, day: date) -> bytes: ...

    def upcoming_json(self, day: date, days: int) -> bytes: ...


class ProjectionHealth(Protocol):
    """Each read model's position, the event store's head and the lag between them.

    ``status()`` reads the database, so it raises when the database is unreachable.
    """

    def status(self) -> Sequence[Any]: ...
