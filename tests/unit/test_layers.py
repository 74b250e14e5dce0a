"""Imports point down: infrastructure -> application -> domain (docs: house style, Layers)."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MAY_IMPORT = {
    *sys.stdlib_module_names,
    "domain",
    "eventsourcing.domain",
    "eventsourcing.utils",
}
APPLICATION_MUST_NOT_IMPORT = {"infrastructure", "projections", "fastapi", "psycopg"}


def imported_names(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:  # relative stays in-package
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def within(name: str, modules: set[str]) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:i]) in modules for i in range(1, len(parts) + 1))


def layer_violations(package: Path, allowed: set[str] | None = None, forbidden=frozenset()):
    """`file: module` for each import outside `allowed` (when given) or inside `forbidden`."""
    return [
        f"{path.relative_to(package.parent)}: {name}"
        for path in sorted(package.rglob("*.py"))
        for name in imported_names(ast.parse(path.read_text(), str(path)))
        if (allowed is not None and not within(name, allowed)) or within(name, forbidden)
    ]


def test_domain_imports_only_the_stdlib_and_eventsourcing_domain():
    assert layer_violations(ROOT / "domain", allowed=DOMAIN_MAY_IMPORT) == []


def test_application_imports_neither_infrastructure_nor_drivers():
    assert layer_violations(ROOT / "application", forbidden=APPLICATION_MUST_NOT_IMPORT) == []


def test_checker_catches_forbidden_imports(tmp_path):
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "bad.py").write_text(
        "import datetime\nfrom eventsourcing.domain import Aggregate\nfrom . import case\n"
        "import pydantic\nfrom infrastructure.settings import Settings\n"
        "from eventsourcing import persistence\n"
    )
    assert layer_violations(tmp_path / "domain", allowed=DOMAIN_MAY_IMPORT) == [
        "domain/bad.py: pydantic",
        "domain/bad.py: infrastructure.settings.Settings",
        "domain/bad.py: eventsourcing.persistence",
    ]
    (tmp_path / "application").mkdir()
    (tmp_path / "application" / "bad.py").write_text("import psycopg.rows\nimport domain\n")
    assert layer_violations(tmp_path / "application", forbidden=APPLICATION_MUST_NOT_IMPORT) == [
        "application/bad.py: psycopg.rows"
    ]
