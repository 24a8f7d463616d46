"""Which offset of a partition is safe to commit.

Events finish out of order (different keys run concurrently), so the committable position is
the lowest offset still unfinished, or one past the highest seen when nothing is pending.
"""

from __future__ import annotations

import heapq


class PartitionOffsets:
    def __init__(self) -> None:
        self._pending: list[int] = []  # min-heap of offsets dispatched, not finished
        self._done: set[int] = set()  # finished while a lower offset is still pending
        self._next = -1  # one past the highest offset dispatched
        self._committed = -1

    def started(self, offset: int) -> None:
        heapq.heappush(self._pending, offset)
        self._next = max(self._next, offset + 1)

    def finished(self, offset: int) -> None:
        self._done.add(offset)
        while self._pending and self._pending[0] in self._done:
            self._done.discard(heapq.heappop(self._pending))

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def committable(self) -> int | None:
        """The offset to commit (Kafka's 'next to read'), or None if nothing new is safe."""
        position = self._pending[0] if self._pending else self._next
        if position < 0 or position <= self._committed:
            return None
        return position

    def mark_committed(self, position: int) -> None:
        self._committed = max(self._committed, position)
