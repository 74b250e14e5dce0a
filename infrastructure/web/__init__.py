"""Back-office pages (issue 7): ``create_web_app(cases, tokens, overdue, upcoming, clock=...)``
and ``with_web_pages(api, web)`` to serve them beside the JSON API, under /ui.

The three are imported when first asked for: importing a module of this package (the
migrations import ``sessions_postgres``) does not load the pages (FastAPI's templates, the
PDF writer), about 0.7 s of every ``pqasso`` command's start on a slow host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infrastructure.web.app import create_web_app, create_web_router, with_web_pages

__all__ = ["create_web_app", "create_web_router", "with_web_pages"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from infrastructure.web import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
