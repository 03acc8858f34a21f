"""The webhook delivery queue: a delivery per key, a sorted set of id -> when to try next, leases
while in flight, a per-visitor index for erasure, and a capped log per site.

A delivery id starts with a short hash of its endpoint (`{endpoint}-{rest}`), so the worker can
see whose endpoint a due delivery is for without loading it, and keep one slow endpoint from
taking every slot.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer

DELIVERY_TTL = 7 * 86400
LOG_SIZE = 1000

# Lease the given ids that are still due; returns the ones leased.
_LEASE = """
local out = {}
for i = 3, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) <= tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
return out
"""


class Deliveries:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys
        self._lease = self.r.register_script(_LEASE)

    def enqueue(self, delivery: dict[str, Any], at: float, vid: str) -> None:
        """Queued in the same batch as the event that caused it, so neither is stored without the
        other. The id is derived from the event, so queueing it twice keeps one."""
        did = delivery["id"]
        self.writer.cmd("SET", self.k.delivery(did), orjson.dumps(delivery), "NX", "EX", DELIVERY_TTL)
        self.writer.cmd("ZADD", self.k.delivery_queue, "NX", at, did)
        if vid:
            self.writer.cmd("SADD", self.k.visitor_deliveries(vid), did)
            self.writer.cmd("EXPIRE", self.k.visitor_deliveries(vid), DELIVERY_TTL)

    async def due(self, now: float, limit: int) -> list[str]:
        return [x.decode() for x in await self.r.zrangebyscore(self.k.delivery_queue, "-inf", now, start=0,
                                                                num=limit)]

    async def lease(self, ids: list[str], now: float, until: float) -> list[dict[str, Any]]:
        """Take these due deliveries until `until`: if this instance dies mid-delivery, they come due
        again. Ids another instance took first, or whose delivery is gone, are skipped."""
        if not ids:
            return []
        got = [x.decode() for x in await self._lease(keys=[self.k.delivery_queue], args=[now, until, *ids])]
        if not got:
            return []
        raws = await self.r.mget([self.k.delivery(i) for i in got])
        gone = [i for i, raw in zip(got, raws, strict=True) if raw is None]
        if gone:
            await self.r.zrem(self.k.delivery_queue, *gone)
        return [orjson.loads(raw) for raw in raws if raw]

    async def done(self, d: dict[str, Any], log_entry: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self.k.delivery_queue, d["id"])
        pipe.delete(self.k.delivery(d["id"]))
        if d.get("vid"):
            pipe.srem(self.k.visitor_deliveries(d["vid"]), d["id"])
        pipe.lpush(self.k.delivery_log(d["site"]), orjson.dumps(log_entry))
        pipe.ltrim(self.k.delivery_log(d["site"]), 0, LOG_SIZE - 1)
        await pipe.execute()

    async def retry(self, d: dict[str, Any], at: float) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k.delivery(d["id"]), orjson.dumps(d), xx=True, keepttl=True)
        pipe.zadd(self.k.delivery_queue, {d["id"]: at}, xx=True)
        await pipe.execute()

    async def log(self, site: str, limit: int = 100) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in await self.r.lrange(self.k.delivery_log(site), 0, limit - 1)]

    async def pending(self, site: str, limit: int = 1000) -> list[dict[str, Any]]:
        ids = await self.r.zrange(self.k.delivery_queue, 0, limit - 1)
        if not ids:
            return []
        raws = await self.r.mget([self.k.delivery(i.decode()) for i in ids])
        return [d for d in (orjson.loads(x) for x in raws if x) if d["site"] == site]
