"""Instances sharing one Redis: heartbeats, the sessions with a socket on each instance, and
claiming a silent instance's sessions (exactly one survivor claims each dead instance)."""

from __future__ import annotations

import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer


class Instances:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys

    async def beat(self, instance: str, now: float, dead_after: float,
                        may_claim: bool) -> tuple[set[str], list[str]]:
        """Record this instance as alive. Returns the instances alive within `dead_after` seconds and,
        if `may_claim`, the silent ones this instance has claimed (each is claimed by exactly one)."""
        key = self.k.instances
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(key, {instance: now})
        pipe.zrangebyscore(key, now - dead_after, "+inf")
        pipe.zrangebyscore(key, "-inf", now - dead_after)
        _, alive, silent = await pipe.execute()
        claimed = [i.decode() for i in silent if may_claim and await self.r.zrem(key, i)]
        return {x.decode() for x in alive}, claimed

    def track_conn(self, instance: str, sid: str, open_: bool) -> None:
        """Which sessions have sockets on which instance, so a crashed instance's can be closed."""
        key = self.k.instance_sessions(instance)
        if open_:
            self.writer.cmd("SADD", key, sid)
            self.writer.cmd("EXPIRE", key, 7 * 86400)
        else:
            self.writer.cmd("SREM", key, sid)

    async def take_sessions(self, instance: str) -> list[str]:
        key = self.k.instance_sessions(instance)
        pipe = self.r.pipeline(transaction=True)
        pipe.smembers(key)
        pipe.delete(key)
        sids, _ = await pipe.execute()
        return [x.decode() for x in sids]

    async def forget(self, instance: str) -> None:
        await self.r.zrem(self.k.instances, instance)

    async def ids(self) -> list[str]:
        return [i.decode() for i in await self.r.zrange(self.k.instances, 0, -1)]
