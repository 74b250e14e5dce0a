"""LockContention (infrastructure/lock_contention.py): when the recorder flushes outside the
table lock. Saves that waited make contention, remembered for a while; a writer alone, whose
lock is slow now and then, does not."""

from __future__ import annotations

from infrastructure.lock_contention import WAITED_MS, LockContention

FREE, WAITED = 0.02, 0.5  # milliseconds: an uncontended lock, and one behind another save


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def contention(clock: Clock) -> LockContention:
    return LockContention(waited_ms=WAITED_MS, waits=2.0, remember_for=1.0, clock=clock)


def test_saves_that_never_wait_are_not_contention() -> None:
    seen = contention(Clock())
    for _ in range(1_000):
        seen.observe(FREE)
    assert not seen.recent()


def test_three_waits_in_a_row_are_contention() -> None:
    seen = contention(Clock())
    seen.observe(WAITED)
    seen.observe(WAITED)
    assert not seen.recent()
    seen.observe(WAITED)
    assert seen.recent()


def test_a_slow_lock_now_and_then_is_not_contention() -> None:
    seen = contention(Clock())
    for save in range(1_000):
        seen.observe(WAITED if save % 20 == 0 else FREE)  # one save in twenty
    assert not seen.recent()


def test_a_fifth_of_the_saves_waiting_is_contention() -> None:
    seen = contention(Clock())
    for save in range(50):
        seen.observe(WAITED if save % 5 == 0 else FREE)
    assert seen.recent()


def test_contention_is_remembered_for_a_while_then_looked_at_again() -> None:
    clock = Clock()
    seen = contention(clock)
    for _ in range(3):
        seen.observe(WAITED)

    clock.now += 0.9
    assert seen.recent()
    clock.now += 0.2
    assert not seen.recent()
    seen.observe(WAITED)  # the count started again when contention was seen
    assert not seen.recent()


def test_a_wait_just_under_the_threshold_does_not_count() -> None:
    seen = contention(Clock())
    for _ in range(100):
        seen.observe(WAITED_MS * 0.99)
    assert not seen.recent()
