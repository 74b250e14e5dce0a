"""Every ``pqasso`` command but ``serve`` starts without FastAPI, the pages or uvicorn (about
1.2 s of each start on a slow host); ``serve`` imports them before forking its workers."""

from __future__ import annotations

import subprocess
import sys

SERVING = ("fastapi", "uvicorn", "fpdf", "infrastructure.http.app", "infrastructure.web.app")


def modules_after(statement: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; {statement}; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_command_line_and_the_migrations_do_not_load_the_serving_stack():
    loaded = modules_after("import infrastructure.cli, infrastructure.migrations")

    assert "infrastructure.cli_service" in loaded
    assert not loaded & set(SERVING)


def test_serving_loads_the_api_and_the_pages():
    loaded = modules_after("import infrastructure.serving")

    assert set(SERVING) <= loaded


def test_the_pages_package_still_gives_its_three_names():
    loaded = modules_after("from infrastructure.web import create_web_app, create_web_router, "
                           "with_web_pages")

    assert "infrastructure.web.app" in loaded
