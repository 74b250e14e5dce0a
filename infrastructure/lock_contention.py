"""Whether saves have lately had to wait for the events table's lock.

A save holds the EXCLUSIVE lock on the events table until its transaction has committed (so
that notification ids become visible in the order they were given). Committed the usual
way, the commit waits for its WAL flush inside the lock: the cheapest save when it writes
alone, but concurrent writers then queue behind each other's flush, one at a time. Committed
without waiting inside the lock and flushed afterwards (the append procedure, see
infrastructure/recorder.py), a save costs a second transaction, and writers share flushes.

``LockContention`` keeps a decaying count of the saves that waited at least ``waited_ms`` for
the lock (each adds one; the count loses a tenth at every save). When it reaches ``waits``
(about a fifth of the saves lately, or a few in a row), it remembers the contention for
``remember_for`` seconds: the recorder flushes outside the lock meanwhile, then looks again.
A writer alone sees a slow lock now and then (the machine took its CPU away): not contention.
It decides speed only: both ways keep ids gap-free and in commit order, and answer once the
events are on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic

# An uncontended lock is taken in some 20 microseconds (a function call and a lock-table
# lookup); another writer's save holds it for a tenth of a millisecond or more.
WAITED_MS = 0.1
WAITS = 2.0
DECAY = 0.9
REMEMBER_FOR = 1.0


class LockContention:
    """Recent waits for the events table's lock, as one process's saves saw them.

    Shared by the threads that save through one recorder: a race between two of them may
    lose an observation, which only delays the switch by a save."""

    def __init__(self, *, waited_ms: float = WAITED_MS, waits: float = WAITS,
                 remember_for: float = REMEMBER_FOR, clock: Callable[[], float] = monotonic) -> None:
        self.waited_ms, self.waits, self.remember_for, self._clock = waited_ms, waits, remember_for, clock
        self._count = 0.0
        self._until = float("-inf")

    def recent(self) -> bool:
        """Is contention remembered (for ``remember_for`` seconds after it was seen)?"""
        return self._clock() < self._until

    def observe(self, lock_wait_ms: float) -> None:
        """A save waited ``lock_wait_ms`` for the lock."""
        count = self._count * DECAY + (lock_wait_ms >= self.waited_ms)
        if count >= self.waits:
            self._until, count = self._clock() + self.remember_for, 0.0
        self._count = count
