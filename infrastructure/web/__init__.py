"""Back-office pages (issue 7): ``create_web_app(cases, tokens, overdue, upcoming, clock=...)``
and ``with_web_pages(api, web)`` to serve them beside the JSON API, under /ui."""

from infrastructure.web.app import create_web_app, create_web_router, with_web_pages

__all__ = ["create_web_app", "create_web_router", "with_web_pages"]
