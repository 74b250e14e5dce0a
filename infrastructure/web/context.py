"""What every page handler is given: the application, the read models, the clock, sessions, templates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from application.cases import QualityMarkCases
from infrastructure.http.ports import OverdueQueries, UpcomingQueries
from infrastructure.web.auth import WebAuth
from infrastructure.web.pages import Pages


@dataclass(frozen=True)
class Web:
    """The pages' dependencies, built once by ``create_web_app``."""

    cases: QualityMarkCases
    overdue: OverdueQueries
    upcoming: UpcomingQueries | None
    clock: Callable[[], date]
    auth: WebAuth
    pages: Pages
