"""The HTTP API (api-v1.md): ``create_api(cases, tokens, overdue, health, ...)``."""

from infrastructure.http.app import create_api
from infrastructure.http.ports import (
    Authenticator,
    OverdueQueries,
    ProjectionHealth,
    UpcomingQueries,
)

__all__ = ["Authenticator", "OverdueQueries", "ProjectionHealth", "UpcomingQueries", "create_api"]
