"""Instances watching each other: a heartbeat in Redis, and the takeover of an instance that went
silent without shutting down (its sockets are closed for it, so its sessions leave as usual).

An instance only declares another dead after it has itself been healthy (its heartbeats and every
other Redis call working) for the whole dead-after period. After a Redis outage every instance
is silent for a while; without that rule the first one back would claim all the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..health import Health
from ..store import Store, StoreError

log = logging.getLogger("linger.cluster")
DEAD_AFTER_BEATS = 6


class Cluster:
    def __init__(self, store: Store, instance: str, heartbeat_s: float, clock: Callable[[], float],
                 health: Health, take_over: Callable[[str], Awaitable[None]],
                 every_beat: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store, self.instance, self.clock, self.health = store, instance, clock, health
        self.heartbeat_s = heartbeat_s
        self.dead_after = DEAD_AFTER_BEATS * heartbeat_s
        self.alive: set[str] = {instance}
        self.ok_since: float | None = None  # first heartbeat of the current unbroken run
        self.last_ok: float | None = None
        self._take_over = take_over
        self._every_beat = every_beat

    def may_claim(self, now: float) -> bool:
        return (self.ok_since is not None and now - self.ok_since >= self.dead_after
                and self.health.healthy_for() >= self.dead_after)

    async def beat(self) -> None:
        now = self.clock()
        try:
            self.alive, dead = await self.store.instances.beat(self.instance, now, self.dead_after, self.may_claim(now))
        except (StoreError, OSError) as e:
            self.ok_since = None
            self.health.fail("heartbeat", e)
            return
        self.health.ok("heartbeat")
        done = self.clock()
        if self.ok_since is None or self.last_ok is None or done - self.last_ok > 2 * self.heartbeat_s:
            self.ok_since = done  # we were silent ourselves (Redis stalled or down): start counting again
        self.last_ok = done
        for inst in dead:
            await self._take_over(inst)
        if self._every_beat is not None:
            try:
                await self._every_beat()
            except (StoreError, OSError) as e:
                self.health.fail("heartbeat", e)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self.beat()
