"""The case's deadlines as a picture: each obligation's window, when it was met, and how late.

Drawn here as SVG text (no browser script), with a ``<title>`` on every mark so that a
screen reader, or a pointer hovering, says what it means; the page shows the same
facts as a table under it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from markupsafe import Markup

from infrastructure.web.labels import CLOSURES, OBLIGATIONS, PARTIES, day, label

WIDTH, LEFT, RIGHT, TOP, ROW = 960, 230, 24, 34, 34


@dataclass(frozen=True)
class Mark:
    """One obligation, its dates parsed."""

    obligation: str
    owed_by: str
    opened_on: date
    due_on: date
    closed_on: date | None
    state: str

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> Mark:
        closed = d.get("closed_on")
        return cls(d["obligation"], d["owed_by"], date.fromisoformat(d["opened_on"]),
                   date.fromisoformat(d["due_on"]), date.fromisoformat(closed) if closed else None,
                   d.get("state", "open"))

    def late_until(self, today: date) -> date | None:
        """The end of the late span, if there is one: when it closed late, or today."""
        end = self.closed_on if self.closed_on is not None else today
        return end if end > self.due_on else None

    def lateness(self, today: date) -> str | None:
        """How late, in words, if it is: "3 days late" once closed (it was overdue until the
        day before it closed: domain/deadlines.py), "overdue 7 days" while open (as the overdue
        list counts)."""
        late = self.late_until(today)
        if late is None:
            return None
        days = (late - self.due_on).days
        count = f"{days} day{'' if days == 1 else 's'}"
        return f"{count} late" if self.closed_on is not None else f"overdue {count}"


def draw(deadlines: Sequence[Mapping[str, Any]], *, start: date, today: date, ended: bool) -> Markup:
    """An SVG timeline of ``deadlines`` (``case_state``'s list) from ``start``."""
    marks = [Mark.of(d) for d in deadlines]
    last = max([start, *(m.due_on for m in marks), *(m.closed_on for m in marks if m.closed_on)])
    end = max(last, today) if not ended else last
    span = max((end - start).days, 14)
    height = TOP + ROW * max(len(marks), 1) + 28

    def x(when: date) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (when - start).days / span, 1)

    parts = [_axis(start, span, x, height)]
    for i, mark in enumerate(marks):
        parts.append(_row(mark, TOP + i * ROW, x, today))
    if not marks:
        parts.append(f'<text x="{LEFT}" y="{TOP + 20}" class="tl-label">No deadlines: nothing was owed.</text>')
    if not ended and start <= today <= end:
        parts.append(f'<g class="tl-today"><title>Today, {day(today)}</title>'
                     f'<line x1="{x(today)}" x2="{x(today)}" y1="{TOP - 8}" y2="{height - 22}"/>'
                     f'<text x="{x(today)}" y="{TOP - 12}" text-anchor="middle">today</text></g>')
    summary = f"{len(marks)} deadlines from {day(start)} to {day(end)}; "
    summary += "; ".join(_sentence(m, today) for m in marks)
    return Markup(
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="tl-title tl-desc" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">'
        f'<title id="tl-title">Timeline of the case\'s deadlines</title><desc id="tl-desc">{escape(summary)}</desc>'
        + "".join(parts) + "</svg>"
    )


def _axis(start: date, span: int, x: Any, height: int) -> str:
    step_months = 1 if span <= 200 else 3 if span <= 730 else 12
    ticks, month = [], date(start.year, start.month, 1)
    while (month - start).days <= span:
        if month >= start:
            ticks.append(f'<line x1="{x(month)}" x2="{x(month)}" y1="{TOP - 4}" y2="{height - 22}"/>'
                         f'<text x="{x(month)}" y="{height - 8}" text-anchor="middle">{month:%b %Y}</text>')
        total = month.month - 1 + step_months
        if month.year + total // 12 > date.max.year:  # the calendar ends (a deadline in 9999)
            break
        month = date(month.year + total // 12, total % 12 + 1, 1)
    return '<g class="tl-axis">' + "".join(ticks) + "</g>"


def _row(mark: Mark, top: int, x: Any, today: date) -> str:
    name = escape(label(OBLIGATIONS, mark.obligation))
    owed = escape(label(PARTIES, mark.owed_by))
    mid = top + ROW // 2
    out = [f'<g class="tl-row tl-{mark.state}">',
           f'<text class="tl-label" x="{LEFT - 8}" y="{mid + 4}" text-anchor="end">{name}</text>',
           f'<rect class="tl-window" x="{x(mark.opened_on)}" y="{mid - 7}" height="14" '
           f'width="{max(x(mark.due_on) - x(mark.opened_on), 2)}"><title>{name} ({owed}): open from '
           f'{day(mark.opened_on)}, due {day(mark.due_on)}</title></rect>']
    late, lateness = mark.late_until(today), mark.lateness(today)
    if late is not None and lateness is not None:
        until = (f"{label(CLOSURES, mark.state).lower()} on {day(late)}" if mark.closed_on
                 else f"still open on {day(late)}")
        out.append(f'<rect class="tl-overdue" x="{x(mark.due_on)}" y="{mid - 7}" height="14" '
                   f'width="{max(x(late) - x(mark.due_on), 2)}"><title>{lateness.capitalize()}: due '
                   f'{day(mark.due_on)}, {until}</title></rect>')
    out.append(f'<line class="tl-due" x1="{x(mark.due_on)}" x2="{x(mark.due_on)}" y1="{mid - 11}" y2="{mid + 11}">'
               f"<title>Due {day(mark.due_on)}</title></line>")
    if mark.closed_on is not None:
        out.append(f'<circle class="tl-closed" cx="{x(mark.closed_on)}" cy="{mid}" r="6"><title>'
                   f'{label(CLOSURES, mark.state)} on {day(mark.closed_on)}</title></circle>')
    out.append("</g>")
    return "".join(out)


def _sentence(mark: Mark, today: date) -> str:
    text = f"{label(OBLIGATIONS, mark.obligation)} due {day(mark.due_on)}"
    if mark.closed_on:
        text += f", {label(CLOSURES, mark.state).lower()} {day(mark.closed_on)}"
    lateness = mark.lateness(today)
    return text + (f", {lateness}" if lateness else "")

