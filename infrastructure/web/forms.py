"""Forms as data: their fields, what was typed, and each refusal placed next to its field.

Input names are the request body's own dotted paths (``rows.0.improvement_required``),
so the JSON API's body models check a form exactly as they check a JSON body, and
their error paths lead straight back to the input that caused them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from application.authorization import Action
from domain.case import Case
from domain.participants import Actor
from infrastructure.http.errors import field_error as api_field_error
from infrastructure.web.labels import POSITIONS
from infrastructure.whole_numbers import whole_number

Values = dict[str, str]
POSITION_OPTIONS = tuple(POSITIONS.items())
_FRIENDLIER = {
    "missing": "This is required.",
    "too_short": "Add at least one.",
    "int_type": "Write a whole number.",
    "int_parsing": "Write a whole number.",
    "enum": "Choose one of the options.",
    "bool_type": "Choose one of the options.",
}


@dataclass(frozen=True)
class Field:
    """One input: ``kind`` is text, date, textarea, select, radios or hidden."""

    name: str
    label: str
    kind: str = "text"
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""
    optional: bool = False
    rows: int = 3
    short: bool = False


@dataclass(frozen=True)
class Group:
    """A fieldset; refusals of its ``name`` (a body path, e.g. ``rows.1``) show on it."""

    legend: str
    fields: tuple[Field, ...]
    name: str = ""
    hint: str = ""


@dataclass(frozen=True)
class FormSpec:
    """One action's form: its layout, first values, and how what was typed becomes a body."""

    action: Action
    path: str
    title: str
    intro: str
    body: type[BaseModel]
    layout: Callable[[Case | None, Values], list[Group]]
    initial: Callable[[Case | None, Actor, date], Values]
    to_body: Callable[[Values, Case | None], tuple[dict[str, Any], dict[str, str]]]
    command: Callable[[Any, Case | None, Values], Any] = field(
        default=lambda body, case, values: body.command(case.id))
    submit: str = "Record"


def signature_fields() -> Group:
    return Group("Signed and received", (
        Field("signed_by.name", "Signed by", hint="The chief executive or chair who signed it."),
        Field("signed_by.position", "Position", "radios", POSITION_OPTIONS),
        Field("signed_on", "Date signed", "date"),
        Field("received_on", "Date received", "date", hint="When it reached the lead reviewer by post."),
    ))


def signature_body(values: Values) -> dict[str, Any]:
    return {"signed_by": {"name": values.get("signed_by.name", ""), "position": values.get("signed_by.position", "")},
            "signed_on": values.get("signed_on", ""), "received_on": values.get("received_on", "")}


def validation_errors(error: ValidationError) -> list[tuple[str | None, str]]:
    """Pydantic's errors as (body path, message), as the JSON API words them, a little plainer."""
    found = []
    for item in error.errors():
        path, message = api_field_error({**item, "loc": ("body", *item.get("loc", ()))})
        kind = item.get("type", "")
        if kind == "string_too_short" and (item.get("ctx") or {}).get("min_length") == 1:
            message = "Must not be blank."
        message = _FRIENDLIER.get(kind, message)
        found.append((path, message))
    return found


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def renamed(path: str | None, renames: Mapping[str, str]) -> str:
    """A body path as the form's input name (rows dropped as blank shift the body's indices)."""
    path = path or ""
    source = max((s for s in renames if _within(path, s)), key=len, default=None)
    return path if source is None else renames[source] + path[len(source):]


@dataclass
class Placed:
    """Refusals by input or fieldset name ("" for the form as a whole), and a summary list."""

    by_name: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.summary)


def place(errors: Iterable[tuple[str | None, str]], groups: list[Group], renames: Mapping[str, str]) -> Placed:
    """Put each refusal on the input, else the fieldset, whose name is the longest prefix of its path."""
    names = {f.name for g in groups for f in g.fields if f.kind != "hidden"} | {g.name for g in groups if g.name}
    placed = Placed()
    for path, message in errors:
        path = renamed(path, renames)
        target = max((n for n in names if _within(path, n)), key=len, default="")
        if message not in placed.by_name.setdefault(target, []):
            placed.by_name[target].append(message)
            placed.summary.append((target, message))
    return placed


def compact_rows(
    values: Values, prefix: str, keys: tuple[str, ...], limit: int,
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The rows under ``prefix`` that are not all blank, and the renames from body to form index."""
    rows, renames = [], {}
    for i in range(limit):
        row = {key: values.get(f"{prefix}.{i}.{key}", "") for key in keys}
        if any(v.strip() for v in row.values()):
            renames[f"{prefix}.{len(rows)}"] = f"{prefix}.{i}"
            rows.append(row)
    return rows, renames


def row_count(values: Values, prefix: str) -> int:
    """How many rows under ``prefix`` the form had."""
    indices = [name[len(prefix) + 1:].split(".", 1)[0] for name in values if name.startswith(prefix + ".")]
    numbers = (whole_number(i, max_digits=3) for i in indices)
    return max((n + 1 for n in numbers if n is not None), default=0)
