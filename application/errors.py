"""Why the application refused a request that the domain never saw."""

from __future__ import annotations

from uuid import UUID


class ApplicationError(Exception):
    """Base of the application's own refusals."""


class CaseNotFound(ApplicationError):
    """Raised when no case has the given id."""

    def __init__(self, case_id: UUID | str) -> None:
        super().__init__(f"There is no case {case_id}.")
        self.case_id = case_id


class VersionNotFound(ApplicationError):
    """Raised when a case's state is asked for after more events than it has."""

    def __init__(self, case_id: UUID, version: int, latest: int) -> None:
        super().__init__(f"Case {case_id} has {latest} events; there is no version {version}.")
        self.case_id, self.version, self.latest = case_id, version, latest


class VersionConflict(ApplicationError):
    """Raised when the case changed since the version the command expected."""

    def __init__(self, case_id: UUID, expected: int | None, actual: int | None) -> None:
        super().__init__(
            f"Case {case_id} is at version {actual}, not {expected}: someone else changed it. "
            "Reload the case and try again."
        )
        self.case_id, self.expected, self.actual = case_id, expected, actual


class IdempotencyKeyReused(ApplicationError):
    """Raised when an idempotency key already used for one request comes with another."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency key {key!r} was already used for a different request.")
        self.key = key


class NotAllowed(ApplicationError):
    """Raised when the acting principal may not do this to this case."""
