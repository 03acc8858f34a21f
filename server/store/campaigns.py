"""Campaigns per site (one hash), the seed-once flag, and per-variant result counters."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer

DAY_KEEP_S = 40 * 86400


class Campaigns:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys

    async def load_all(self, site: str) -> list[dict[str, Any]]:
        raw = await self.r.hgetall(self.k.campaigns(site))
        return [orjson.loads(x) for x in raw.values()]

    async def load(self, site: str, cid: str) -> dict[str, Any] | None:
        raw = await self.r.hget(self.k.campaigns(site), cid)
        return orjson.loads(raw) if raw else None

    async def save(self, site: str, camp: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self.k.campaigns(site), camp["id"], orjson.dumps(camp))
        pipe.set(self.k.campaign_seeded(site), 1)
        pipe.publish(self.k.campaigns_channel, site)
        await pipe.execute()

    async def delete(self, site: str, cid: str) -> bool:
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.k.campaigns(site), cid)
        pipe.publish(self.k.campaigns_channel, site)
        removed, _ = await pipe.execute()
        return bool(removed)

    async def save_preview(self, token: str, site: str, camp: dict[str, Any], variant: int, ttl: int) -> None:
        """A draft for "preview on my store": shown to the browser that brings the token, never stored as
        a campaign, gone after `ttl` seconds."""
        await self.r.set(self.k.preview(token), orjson.dumps({"site": site, "campaign": camp, "variant": variant}),
                         ex=ttl)

    async def load_preview(self, token: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.k.preview(token))
        return orjson.loads(raw) if raw else None

    async def seed(self, site: str, camps: list[dict[str, Any]]) -> bool:
        """Store the seed set once per site (never again, even after the merchant deletes them)."""
        if not await self.r.set(self.k.campaign_seeded(site), 1, nx=True):
            return False
        if camps:
            await self.r.hset(self.k.campaigns(site), mapping={c["id"]: orjson.dumps(c) for c in camps})
        return True

    def count(self, site: str, cid: str, var: str, counts: dict[str, float], now: float) -> None:
        """Queue increments of the campaign's per-variant counters ("shown": 1, "revenue": 89.0, ...),
        in all and for the UTC day (kept 40 days, for "the last 7 days")."""
        if not self.writer.in_guard:  # increments are not idempotent: only the once-only path may count
            raise RuntimeError("campaign counters are only written inside store.applying()")
        day = self.k.campaign_day(site, cid, time.strftime("%Y%m%d", time.gmtime(now)))
        for key in (self.k.campaign_stats(site, cid), day):
            for name, n in counts.items():
                if isinstance(n, int):
                    self.writer.cmd("HINCRBY", key, f"{var}:{name}", n)
                else:
                    self.writer.cmd("HINCRBYFLOAT", key, f"{var}:{name}", repr(n))
        self.writer.cmd("EXPIRE", day, DAY_KEEP_S)

    async def by_day(self, site: str, cid: str, days: int, now: float) -> list[tuple[str, dict[str, float]]]:
        """The counters of each of the last `days` UTC days, oldest first: [("20261125", {...}), ...]."""
        names = [time.strftime("%Y%m%d", time.gmtime(now - n * 86400)) for n in range(days - 1, -1, -1)]
        pipe = self.r.pipeline(transaction=False)
        for day in names:
            pipe.hgetall(self.k.campaign_day(site, cid, day))
        return [(day, {k.decode(): float(x) for k, x in raw.items()}) for day, raw in zip(names, await pipe.execute(),
                                                                                            strict=True)]

    async def stats_since(self, site: str, cid: str, days: int, now: float) -> dict[str, float]:
        """The counters of the last `days` UTC days (today included), summed."""
        out: dict[str, float] = {}
        for _, counts in await self.by_day(site, cid, days, now):
            for k, x in counts.items():
                out[k] = out.get(k, 0.0) + x
        return out

    async def stats(self, site: str, cid: str) -> dict[str, float]:
        raw = await self.r.hgetall(self.k.campaign_stats(site, cid))
        return {k.decode(): float(x) for k, x in raw.items()}
