"""Who takes part: organisations, signatories, and who acted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from domain.errors import InvalidInput, InvalidSignatory
from domain.texts import IDENTIFIER_MAX, NAME_MAX, required_text


class Role(Enum):
    """The part a principal plays when acting on a case."""

    ADMIN = "admin"
    LEAD_REVIEWER = "lead_reviewer"
    ORGANISATION = "organisation"
    AUDITOR = "auditor"
    REPORTING = "reporting"
    SYSTEM = "system"  # the deadline job


@dataclass(frozen=True)
class Actor:
    """Who did it: a principal (reviewer id, organisation id, staff id) acting in a role."""

    principal: str
    role: Role

    def __post_init__(self) -> None:
        required_text(self.principal, field="actor.principal", max_length=IDENTIFIER_MAX)
        try:
            object.__setattr__(self, "role", Role(self.role))
        except ValueError:
            raise InvalidInput(f"{self.role!r} is not a role.", field="actor.role") from None


@dataclass(frozen=True)
class Organisation:
    """The charity being assessed."""

    id: str
    name: str

    def __post_init__(self) -> None:
        required_text(self.id, field="organisation.id", max_length=IDENTIFIER_MAX)
        required_text(self.name, field="organisation.name", max_length=NAME_MAX)


class SignatoryPosition(Enum):
    """Guidance: the plan "should be signed and dated by the chief executive or chair"."""

    CHIEF_EXECUTIVE = "chief_executive"
    CHAIR = "chair"


@dataclass(frozen=True)
class Signatory:
    """The person who signed what the organisation sent."""

    name: str
    position: SignatoryPosition

    def __post_init__(self) -> None:
        required_text(self.name, field="signed_by.name", max_length=NAME_MAX)
        try:
            object.__setattr__(self, "position", SignatoryPosition(self.position))
        except ValueError:
            raise InvalidSignatory(
                f"{self.position!r} may not sign: the chief executive or the chair signs.",
                field="signed_by.position",
            ) from None
