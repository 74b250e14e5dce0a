"""The journey the write benchmarks repeat: the API's documented happy path (the guidance's
example plan, infrastructure/http/examples.py), as HTTP bodies and as application commands
made from those same bodies, so both benchmarks record events of the same sizes.

One journey: the site visit opens a case, then the plan, its approval, the evidence, a
request for further details and the answer, the judgement and the award: 8 commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from application.cases import QualityMarkCases
from application.commands import CommandContext
from benchmarks.http_load import open_case_body
from domain.participants import Actor, Role
from infrastructure.http import examples
from infrastructure.http.bodies import OpenCaseIn
from infrastructure.http.routes_commands import CASE_COMMANDS

_BODY_TYPES = {path.removeprefix("/cases/{case_id}/"): body for path, _, body, _ in CASE_COMMANDS}
STEPS: tuple[tuple[str, dict[str, Any], str], ...] = tuple(
    (path, body, role) for path, body, role, _ in examples.HAPPY_PATH)
COMMANDS_PER_JOURNEY = 1 + len(STEPS)


class Journeys:
    """Commands through ``app``, journey after journey, for one writer (not thread-safe)."""

    def __init__(self, app: QualityMarkCases, writer: int) -> None:
        self.app, self.today = app, date.today()
        organisation, reviewer = f"org-bench-{writer}", f"reviewer-bench-{writer}"
        self.open = OpenCaseIn.model_validate(open_case_body(organisation, reviewer)).command()
        self.actors = {"organisation": Actor(organisation, Role.ORGANISATION),
                       "lead_reviewer": Actor(reviewer, Role.LEAD_REVIEWER),
                       "admin": Actor("ces-admin-1", Role.ADMIN)}
        self.steps = [(_BODY_TYPES[path].model_validate(body), role) for path, body, role in STEPS]
        self._next = self._commands()

    def run_one(self) -> None:
        """Run the next command (opening a new case after the last one's award)."""
        next(self._next)

    def _commands(self) -> Iterator[None]:
        while True:
            opened = self.app.open_case(self.open, CommandContext(self.actors["admin"], self.today))
            yield
            for body, role in self.steps:
                self.app.execute(body.command(opened.case_id), CommandContext(self.actors[role], self.today))
                yield


def in_memory_cases() -> QualityMarkCases:
    """The application with the library's in-memory recorder: its Python without PostgreSQL."""
    return QualityMarkCases(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored_payloads() -> list[tuple[str, bytes]]:
    """(topic, state) of one journey's events as the service stores them: the rows the raw
    INSERT baseline writes, so that it writes rows of the same sizes."""
    app = in_memory_cases()
    journeys = Journeys(app, 0)
    for _ in range(COMMANDS_PER_JOURNEY):
        journeys.run_one()
    return [(n.topic, n.state) for n in app.recorder.select_notifications(1, COMMANDS_PER_JOURNEY)]
