"""How long the live projections let events gather before their next pass
(``projections.runner.pass_window``): short while few come, longer under load."""

from __future__ import annotations

import pytest

from projections.runner import QUIET_WINDOW, pass_window


@pytest.mark.parametrize(("last_pass_events", "window"), [
    (0, QUIET_WINDOW), (1, QUIET_WINDOW), (10, QUIET_WINDOW),  # a command now and then
    (26, 0.13),  # 525 commands/s with passes 0.05 s apart
    (40, 0.2), (500, 0.2),  # busier: at most the supervisor's batch window
])
def test_the_window_grows_with_the_events_of_the_last_pass_up_to_the_batch_window(
        last_pass_events: int, window: float) -> None:
    assert pass_window(last_pass_events, batch_window=0.2) == pytest.approx(window)


def test_no_window_when_the_supervisor_coalesces_nothing() -> None:
    assert pass_window(100, batch_window=0.0) == 0.0


@pytest.mark.parametrize(("events_per_second", "settles_at"), [
    (20, QUIET_WINDOW), (150, QUIET_WINDOW),  # few passes anyway: each event soon
    (525, 0.2),  # the benchmark's rate: five passes a second
])
def test_under_a_steady_rate_the_window_settles(events_per_second: int, settles_at: float) -> None:
    window = QUIET_WINDOW
    for _ in range(20):  # each pass takes what came during the window before it
        window = pass_window(int(events_per_second * window), batch_window=0.2)
    assert window == pytest.approx(settles_at)
