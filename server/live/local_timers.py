"""Timers of the shoppers connected to this instance (campaign delays, idle), kept in memory.

They matter only while a socket is open here: when it closes, the session's shared timers (leave,
end) take over in Redis, and a socket that reconnects elsewhere arms them again there. So they
cost no Redis write, and they never wait behind other sessions' bookkeeping: one asyncio timer
handle wakes for the earliest one, whatever the shared timer backlog is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

log = logging.getLogger("linger.live")

LOCAL_KINDS = frozenset({"camp", "idle"})
BATCH = 500  # timers fired per wake-up before yielding to the event loop


class LocalTimers:
    def __init__(self, fire: Callable[[str, str], None], clock: Callable[[], float]) -> None:
        self._fire = fire  # fire(sid, kind), synchronous
        self._clock = clock
        self._heap: list[tuple[float, int, str, str]] = []
        self._due: dict[tuple[str, str], float] = {}  # (sid, kind) -> due; heap entries not matching are stale
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = float("inf")

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, sid: str, kind: str, at: float) -> None:
        self._due[(sid, kind)] = at
        heapq.heappush(self._heap, (at, next(self._seq), sid, kind))
        if at < self._armed_at:
            self._arm(at)

    def cancel(self, sid: str, kind: str) -> None:
        self._due.pop((sid, kind), None)

    def drop(self, sid: str) -> None:
        for kind in LOCAL_KINDS:
            self._due.pop((sid, kind), None)

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._armed_at = at
        self._handle = loop.call_later(max(0.0, at - self._clock()), self._run)

    def _run(self) -> None:
        self._handle, self._armed_at = None, float("inf")
        now = self._clock()
        fired = 0
        while self._heap and self._heap[0][0] <= now and fired < BATCH:
            at, _, sid, kind = heapq.heappop(self._heap)
            if self._due.get((sid, kind)) != at:
                continue  # cancelled or moved since
            del self._due[(sid, kind)]
            fired += 1
            try:
                self._fire(sid, kind)
            except Exception:  # one session's bug must not stop every other session's timers
                log.exception("local timer %s of session %s failed", kind, sid)
        if len(self._heap) > 4 * len(self._due) + 1000:  # mostly stale entries: rebuild
            self._heap = [(at, next(self._seq), sid, kind) for (sid, kind), at in self._due.items()]
            heapq.heapify(self._heap)
        if self._heap:
            self._arm(now if fired >= BATCH else self._heap[0][0])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
