"""PQASSO indicators and the On-site Report's unmet indicators.

An indicator code is ``area.level.number`` (PQASSO 3rd edition): area 1 to 12,
level 1 to 3, number from 1. The indicator's level is at most the case's level.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import IndicatorRowsMismatch, InvalidIndicatorCode
from domain.texts import TEXT_MAX, required_text

QUALITY_AREAS = {
    1: "Planning",
    2: "Governance",
    3: "Leadership and management",
    4: "User-centred service",
    5: "Managing people",
    6: "Learning and development",
    7: "Managing money",
    8: "Managing resources",
    9: "Communications and promotion",
    10: "Working with others",
    11: "Monitoring and evaluation",
    12: "Results",
}
_CODE = re.compile(r"([0-9]{1,2})\.([0-9])\.([0-9]{1,3})")


def indicator_code(value: object, *, case_level: int, field: str = "indicator") -> str:
    """Return the canonical code (``"4.2.7"``) or raise InvalidIndicatorCode saying why."""
    text = value.strip() if isinstance(value, str) else ""
    match = _CODE.fullmatch(text)
    if not match:
        raise InvalidIndicatorCode(
            f"{value!r} is not an indicator code: expected area.level.number, e.g. 4.2.7.",
            field=field,
        )
    area, level, number = (int(part) for part in match.groups())
    if area not in QUALITY_AREAS:
        raise InvalidIndicatorCode(f"Indicator {text}: area must be 1 to 12.", field=field)
    if not 1 <= level <= 3:
        raise InvalidIndicatorCode(f"Indicator {text}: level must be 1 to 3.", field=field)
    if number < 1:
        raise InvalidIndicatorCode(f"Indicator {text}: number must be 1 or more.", field=field)
    if level > case_level:
        raise InvalidIndicatorCode(
            f"Indicator {text} is a level {level} indicator; this case is assessed at level {case_level}.",
            field=field,
        )
    return f"{area}.{level}.{number}"


def quality_area(code: str) -> int:
    """The quality area number of a canonical indicator code."""
    return int(code.split(".", 1)[0])


@dataclass(frozen=True)
class UnmetIndicator:
    """One row of the On-site Report: an indicator not met, with the peer reviewers' findings."""

    indicator: str
    findings: str


def unmet_indicators(
    rows: Iterable[tuple[object, object]], *, case_level: int
) -> tuple[UnmetIndicator, ...]:
    """Validate the On-site Report's rows: good codes, findings given, no indicator twice."""
    report = tuple(
        UnmetIndicator(
            indicator_code(code, case_level=case_level, field=f"unmet_indicators.{i}.indicator"),
            required_text(findings, field=f"unmet_indicators.{i}.findings", max_length=TEXT_MAX),
        )
        for i, (code, findings) in enumerate(rows)
    )
    duplicated = _duplicates(row.indicator for row in report)
    if duplicated:
        raise IndicatorRowsMismatch(
            f"The On-site Report lists indicator {', '.join(duplicated)} more than once.",
            duplicated=duplicated, field="unmet_indicators",
        )
    return report


def check_covers_exactly(
    codes: Iterable[str], unmet: Iterable[str], *, what: str, field: str = "rows"
) -> None:
    """Rows must cover exactly the unmet indicators: none missing, none extra, no duplicates."""
    codes = list(codes)
    expected = list(unmet)
    duplicated = _duplicates(codes)
    missing = tuple(code for code in expected if code not in codes)
    extra = tuple(dict.fromkeys(code for code in codes if code not in expected))
    problems = []
    if missing:
        problems.append(f"no row for {', '.join(missing)}")
    if extra:
        problems.append(f"rows for {', '.join(extra)}, which the On-site Report does not list as unmet")
    if duplicated:
        problems.append(f"more than one row for {', '.join(duplicated)}")
    if problems:
        raise IndicatorRowsMismatch(
            f"The {what} must have one row per unmet indicator ({', '.join(expected)}): "
            + "; ".join(problems) + ".",
            missing=missing, extra=extra, duplicated=duplicated, field=field,
        )


def _duplicates(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(code for code, count in Counter(codes).items() if count > 1)
