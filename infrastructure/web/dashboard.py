"""The overdue dashboard's rows, filters and order, from the deadline read model's items.

Items may be mappings (the in-memory read side) or objects (the PostgreSQL view); both
carry case_id, organisation {id, name}, obligation, owed_by, due_on, lead_reviewer,
days_overdue or days_left, and usually level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from application.authorization import Action, check_allowed
from application.errors import NotAllowed
from domain.participants import Actor
from infrastructure.web.labels import value_of

SORTS = {
    "days": "Days", "due_on": "Due", "organisation": "Organisation", "obligation": "Obligation",
    "owed_by": "Owed by", "lead_reviewer": "Lead reviewer", "level": "Level",
}
MAX_WINDOW = 366


@dataclass(frozen=True)
class OrganisationRef:
    id: str
    name: str


@dataclass(frozen=True)
class Row:
    """One obligation on the dashboard; ``days`` overdue (or left, for upcoming ones)."""

    case_id: str
    organisation: OrganisationRef
    obligation: str
    owed_by: str
    due_on: date
    days: int
    lead_reviewer: str
    level: int | None
    may_open: bool = False

    def sort_key(self, sort: str) -> Any:
        value = self.organisation.name.lower() if sort == "organisation" else getattr(self, sort)
        return (value is None, value or 0, self.due_on, self.organisation.name)


def _get(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def rows_from(items: Iterable[Any], days_field: str, level_of: Callable[[UUID | str], int]) -> list[Row]:
    """Dashboard rows from read-model items; ``level_of`` for items without a level."""
    rows = []
    for item in items:
        org = _get(item, "organisation")
        level = _get(item, "level")
        case_id = _get(item, "case_id")
        rows.append(Row(
            str(case_id), OrganisationRef(str(_get(org, "id")), str(_get(org, "name"))),
            value_of(_get(item, "obligation")), value_of(_get(item, "owed_by")), _get(item, "due_on"),
            int(_get(item, days_field)), str(_get(item, "lead_reviewer")),
            level if level is not None else level_of(case_id),
        ))
    return rows


def may(actor: Actor, action: Action, parties: Any = None) -> bool:
    """Whether the role matrix lets ``actor`` take ``action`` (on ``parties``' case)."""
    try:
        check_allowed(actor, action, parties)
    except NotAllowed:
        return False
    return True


def visible_to(actor: Actor, rows: Sequence[Row]) -> list[Row]:
    """Those who may read the deadline lists see every row; others (a lead reviewer, an
    organisation) see the rows of the cases they may read. Each row says if it may be opened."""
    everything = may(actor, Action.READ_OVERDUE)
    marked = (replace(row, may_open=may(actor, Action.READ_CASE, row)) for row in rows)
    return [row for row in marked if everything or row.may_open]


@dataclass(frozen=True)
class Filters:
    """What the dashboard shows: the day, who owes, which lead reviewer and level, how late."""

    on: date
    owed_by: str = ""
    lead_reviewer: str = ""
    level: int | None = None
    min_days: int | None = None
    within: int = 14
    sort: str = "days"
    descending: bool = True

    @classmethod
    def from_query(cls, query: Mapping[str, str], today: date) -> tuple[Filters, dict[str, str]]:
        """Filters from the address; what cannot be read is ignored and explained."""
        errors: dict[str, str] = {}
        on = _parse(query, "on", date.fromisoformat, errors, "Write the day as YYYY-MM-DD.") or today
        if not 1900 <= on.year <= 9000:  # the read models add days to it
            on, errors["on"] = today, "Choose a day between the years 1900 and 9000."
        level = _parse(query, "level", int, errors, "Choose a level from 1 to 3.")
        if level is not None and not 1 <= level <= 3:
            level, errors["level"] = None, "Choose a level from 1 to 3."
        min_days = _parse(query, "min_days", int, errors, "Write a whole number of days.")
        within = _parse(query, "within", int, errors, "Write a whole number of days.")
        if within is not None and not 0 <= within <= MAX_WINDOW:
            within, errors["within"] = None, f"Write a number of days from 0 to {MAX_WINDOW}."
        owed_by = query.get("owed_by", "")
        sort = query.get("sort", "days")
        return cls(
            on=on, owed_by=owed_by if owed_by in ("organisation", "lead_reviewer") else "",
            lead_reviewer=query.get("lead_reviewer", "").strip()[:100], level=level,
            min_days=min_days, within=14 if within is None else within,
            sort=sort if sort in SORTS else "days", descending=query.get("dir", "desc") != "asc",
        ), errors

    def keeps(self, row: Row, *, overdue: bool) -> bool:
        return (
            (not self.owed_by or row.owed_by == self.owed_by)
            and (not self.lead_reviewer or row.lead_reviewer == self.lead_reviewer)
            and (self.level is None or row.level == self.level)
            and (not overdue or self.min_days is None or row.days >= self.min_days)
        )

    def order(self, rows: Iterable[Row]) -> list[Row]:
        return sorted(rows, key=lambda row: row.sort_key(self.sort), reverse=self.descending)

    def query(self, **changes: Any) -> str:
        """The address's query for these filters, with ``changes`` (for sort links)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        values["dir"] = "desc" if values.pop("descending") else "asc"
        values["on"] = values["on"].isoformat()
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _parse(query: Mapping[str, str], name: str, parse: Callable[[str], Any], errors: dict[str, str],
           message: str) -> Any:
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        errors[name] = message
        return None
