"""The webhook delivery queue: one sorted set per endpoint (id -> when to try next, leased while in
flight), an index of endpoints by their earliest due delivery, a per-visitor index for erasure,
and a capped log per site.

A delivery id starts with a short hash of its endpoint (`{endpoint}-{rest}`). Queues per endpoint
mean that a backlog at one endpoint, however long, never sits in front of another's deliveries.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys, endpoint_of
from .writer import Writer

DELIVERY_TTL = 7 * 86400
LOG_SIZE = 1000

# Lease up to ARGV[3] due deliveries of one endpoint until ARGV[2]; keep the endpoint index at the
# queue's earliest remaining time (or drop the endpoint when its queue is empty).
_LEASE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[1] then redis.call('ZADD', KEYS[2], first[2], ARGV[4]) else redis.call('ZREM', KEYS[2], ARGV[4]) end
return due
"""

# A delivery leaves its endpoint's queue (delivered, given up, gone); the index follows.
_DONE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[1] then redis.call('ZADD', KEYS[2], first[2], ARGV[2]) else redis.call('ZREM', KEYS[2], ARGV[2]) end
return 1
"""


class Deliveries:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys
        self._lease = self.r.register_script(_LEASE)
        self._done = self.r.register_script(_DONE)

    def enqueue(self, delivery: dict[str, Any], at: float, vid: str) -> None:
        """Queued in the same batch as the event that caused it, so neither is stored without the
        other. The id is derived from the event, so queueing it twice keeps one."""
        did = delivery["id"]
        ep = endpoint_of(did)
        self.writer.cmd("SET", self.k.delivery(did), orjson.dumps(delivery), "NX", "EX", DELIVERY_TTL)
        self.writer.cmd("ZADD", self.k.delivery_queue_of(did), "NX", at, did)
        self.writer.cmd("ZADD", self.k.delivery_endpoints, "LT", at, ep)
        if vid:
            self.writer.cmd("SADD", self.k.visitor_deliveries(vid), did)
            self.writer.cmd("EXPIRE", self.k.visitor_deliveries(vid), DELIVERY_TTL)

    async def due_endpoints(self, now: float, limit: int = 200) -> list[str]:
        """Endpoints with a delivery due, most overdue first."""
        raw = await self.r.zrangebyscore(self.k.delivery_endpoints, "-inf", now, start=0, num=limit)
        return [x.decode() for x in raw]

    async def lease(self, ep: str, n: int, now: float, until: float) -> list[dict[str, Any]]:
        """Take up to n due deliveries of one endpoint until `until`: if this instance dies
        mid-delivery, they come due again. Deliveries whose body is gone are dropped."""
        qkey = self.k.delivery_queue(ep)
        ids = [x.decode() for x in await self._lease(keys=[qkey, self.k.delivery_endpoints],
                                                      args=[now, repr(until), n, ep])]
        if not ids:
            return []
        raws = await self.r.mget([self.k.delivery(i) for i in ids])
        for i, raw in zip(ids, raws, strict=True):
            if raw is None:
                await self._done(keys=[qkey, self.k.delivery_endpoints], args=[i, ep])
        return [orjson.loads(raw) for raw in raws if raw]

    async def done(self, d: dict[str, Any], log_entry: dict[str, Any]) -> None:
        did = d["id"]
        pipe = self.r.pipeline(transaction=True)
        await self._done(keys=[self.k.delivery_queue_of(did), self.k.delivery_endpoints], args=[did, endpoint_of(did)],
                         client=pipe)  # queued in the pipeline, which loads the script if the server lost it
        pipe.delete(self.k.delivery(did))
        if d.get("vid"):
            pipe.srem(self.k.visitor_deliveries(d["vid"]), did)
        pipe.lpush(self.k.delivery_log(d["site"]), orjson.dumps(log_entry))
        pipe.ltrim(self.k.delivery_log(d["site"]), 0, LOG_SIZE - 1)
        await pipe.execute()

    async def retry(self, d: dict[str, Any], at: float) -> None:
        did = d["id"]
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k.delivery(did), orjson.dumps(d), xx=True, keepttl=True)
        pipe.zadd(self.k.delivery_queue_of(did), {did: at}, xx=True)
        pipe.zadd(self.k.delivery_endpoints, {endpoint_of(did): at}, lt=True)
        await pipe.execute()

    async def log(self, site: str, limit: int = 100) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in await self.r.lrange(self.k.delivery_log(site), 0, limit - 1)]

    async def pending(self, site: str, endpoints: list[str], limit: int = 1000) -> list[dict[str, Any]]:
        """Pending deliveries of a site, from its endpoints' queues (oldest due first, at most `limit`)."""
        out: list[dict[str, Any]] = []
        for ep in endpoints:
            ids = await self.r.zrange(self.k.delivery_queue(ep), 0, limit - 1)
            if ids:
                raws = await self.r.mget([self.k.delivery(i.decode()) for i in ids])
                out += [d for d in (orjson.loads(x) for x in raws if x) if d["site"] == site]
        return out[:limit]

    async def migrate_legacy_queue(self) -> int:
        """Move deliveries queued by an older version (one queue for all) into per-endpoint queues."""
        moved = 0
        async for did_raw, score in self.r.zscan_iter(self.k.legacy_delivery_queue, count=500):
            did = did_raw.decode()
            pipe = self.r.pipeline(transaction=True)
            pipe.zadd(self.k.delivery_queue_of(did), {did: score}, nx=True)
            pipe.zadd(self.k.delivery_endpoints, {endpoint_of(did): score}, lt=True)
            pipe.zrem(self.k.legacy_delivery_queue, did)
            await pipe.execute()
            moved += 1
        return moved
