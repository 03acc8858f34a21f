"""Retention: every `retention.sweep_s`, drop records older than `retention.records_days` and
unconsented leads past `retention.leads_unconsented_days` (their keys expire on their own; this
takes them out of the lists and their address off their visitors). Bounded work per round, so a
large backlog is worked off over several rounds instead of stalling anyone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .config import Config
from .store import Store, StoreError

log = logging.getLogger("linger.janitor")
RECORD_KINDS = ("purchase", "push", "popupev", "alert")


class Janitor:
    def __init__(self, cfg: Config, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.cfg, self.store, self.clock = cfg, store, clock
        self.task: asyncio.Task[None] | None = None

    async def sweep(self) -> dict[str, int]:
        """One round: everything due, in steps of a thousand (the event loop is free in between)."""
        now = self.clock()
        ret = self.store.retention
        out = {"records": 0, "leads": 0}
        for site in self.cfg.sites:
            if ret.records:
                for kind in RECORD_KINDS:
                    while (n := await self.store.records.trim(kind, site, now - ret.records)) > 0:
                        out["records"] += n
                        await asyncio.sleep(0)
            while (n := await self.store.leads.prune_expired(site, now)) > 0:
                out["leads"] += n
                await asyncio.sleep(0)
        if any(out.values()):
            log.info("retention: dropped %d records; looked at %d leads past their time", out["records"], out["leads"])
        return out

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.retention.sweep_s)
            try:
                await self.sweep()
                self.store.health.ok("retention")
            except (StoreError, OSError) as e:
                self.store.health.fail("retention", e)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="linger-janitor")

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
