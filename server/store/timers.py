"""The shared timers of sessions that have no socket (leave, end): one sorted set for every
instance. A due timer is leased, not popped: the instance that takes it moves it `lease` seconds
ahead, and removes it in the same batch as the effects of firing it. If that instance dies in
between, the timer comes due again and another instance fires it, so no leave or end is lost.
(Timers of connected sessions, such as idle and campaign delays, live in the memory of the
instance holding the socket; see live.py.)"""

from __future__ import annotations

import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer

_LEASE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], m) end
return due
"""

# Remove a fired timer unless it was scheduled again since it was leased (its score changed).
_DONE = """
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
"""


class Timers:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys
        self._lease = self.r.register_script(_LEASE)

    def schedule(self, kind: str, sid: str, at: float) -> None:
        self.writer.cmd("ZADD", self.k.timers, at, f"{kind}|{sid}")

    def cancel(self, kind: str, sid: str) -> None:
        self.writer.cmd("ZREM", self.k.timers, f"{kind}|{sid}")

    async def lease_due(self, now: float, limit: int, lease: float) -> tuple[list[tuple[str, str]], float]:
        """Take up to `limit` due timers for `lease` seconds; returns them and the lease's end."""
        until = now + lease
        raw = await self._lease(keys=[self.k.timers], args=[now, limit, repr(until)])
        out = []
        for m in raw:
            kind, sep, sid = m.decode(errors="replace").partition("|")
            if not sep or not kind or not sid:  # not one of ours: gone, rather than leased forever
                await self.r.zrem(self.k.timers, m)
                continue
            out.append((kind, sid))
        return out, until

    def done(self, kind: str, sid: str, leased_until: float) -> None:
        """Queue the removal of a fired timer, in the batch with what firing it changed."""
        self.writer.cmd("EVAL", _DONE, 1, self.k.timers, f"{kind}|{sid}", repr(leased_until), keys=0)

    async def pending(self) -> int:
        return int(await self.r.zcard(self.k.timers))
