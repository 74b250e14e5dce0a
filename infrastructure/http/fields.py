"""Field types for request bodies: shape only (text bounds, ISO dates, strict numbers).

Whether an indicator code is a PQASSO one, whether rows cover the On-site Report,
whether dates follow the case's timeline: the domain decides those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from domain.errors import CaseError
from domain.texts import IDENTIFIER_MAX, NAME_MAX, REPORT_MAX, TEXT_MAX, is_unicode

T = TypeVar("T")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    # Pydantic would also take 1239926400 or "2009-04-17T00:00"; a day is written one way.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return value
    raise ValueError("must be a calendar date written YYYY-MM-DD")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    if not is_unicode(value):
        raise ValueError("must be Unicode text (it has an unpaired surrogate)")
    return value


def bounded_text(max_length: int, description: str, example: str) -> Any:
    """A required, non-blank text of at most ``max_length`` characters."""
    return Annotated[
        str, Field(min_length=1, max_length=max_length, description=description, examples=[example]),
        AfterValidator(_not_blank),
    ]


Day = Annotated[date, BeforeValidator(_iso_day), Field(examples=["2009-04-30"])]
Identifier = bounded_text(IDENTIFIER_MAX, "An identifier (organisation id, reviewer id).", "org-1")
Name = bounded_text(NAME_MAX, "A name or title.", "J Smith")
Text = bounded_text(TEXT_MAX, "A text of up to 4,000 characters.", "Develop a complaints procedure.")
ReportText = bounded_text(REPORT_MAX, "The lead reviewer's report (up to 50,000 characters).",
                   "Report on the improvement actions: both indicators are now met.")
IndicatorCode = Annotated[str, Field(
    min_length=1, max_length=12, examples=["4.2.7"],
    description="PQASSO indicator code `area.level.number` (area 1-12, level 1-3, not above the case's level).",
)]
Level = Annotated[int, Field(strict=True, ge=1, le=3, description="PQASSO level assessed.", examples=[2])]
Version = Annotated[int, Field(strict=True, ge=1, examples=[3])]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, so a misspelt guard is never ignored."""

    model_config = ConfigDict(extra="forbid")


class CommandBody(Body):
    """Base of the bodies of commands on an existing case."""

    expected_version: Version | None = Field(
        default=None,
        description="Refuse (409) unless the case is still at this version (optimistic concurrency).",
    )


def example_config(body: dict[str, Any]) -> ConfigDict:
    """A body model's config, with ``body`` as its OpenAPI example."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [body]})


def rows_of(rows: list[Any], make: Callable[[Any], T], field: str = "rows") -> tuple[T, ...]:
    """Build one value object per row, pointing any refusal at its row (``rows.1.findings``)."""
    built = []
    for i, row in enumerate(rows):
        try:  # as ``at``, without making its context manager for every row
            built.append(make(row))
        except CaseError as error:
            _point_at(error, f"{field}.{i}")
            raise
    return tuple(built)


@contextmanager
def at(prefix: str) -> Iterator[None]:
    """Point a value object's refusal at the part of the body it came from."""
    try:
        yield
    except CaseError as error:
        _point_at(error, prefix)
        raise


def _point_at(error: CaseError, prefix: str) -> None:
    last = (error.field or "").rsplit(".", 1)[-1]
    error.field = f"{prefix}.{last}" if last else prefix
