"""The shop's funnel: which sessions reached which page kind, per UTC day, as HyperLogLogs of session
ids (adding a session twice changes nothing, so a retried write cannot count it twice; a union of
days counts a session once however many days it spans)."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer

KEEP_S = 120 * 86400


def day_of(t: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(t))


class Funnel:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys

    def reached(self, site: str, kind: str, sid: str, now: float) -> None:
        key = self.k.funnel(site, day_of(now), kind)
        self.writer.cmd("PFADD", key, sid)
        self.writer.cmd("EXPIRE", key, KEEP_S)

    async def counts(self, site: str, kinds: tuple[str, ...], days: int, now: float) -> dict[str, int]:
        """Sessions that reached each kind over the last `days` UTC days (today included)."""
        names = [day_of(now - n * 86400) for n in range(days)]
        pipe = self.r.pipeline(transaction=False)
        for kind in kinds:
            pipe.pfcount(*[self.k.funnel(site, d, kind) for d in names])
        return {kind: int(n) for kind, n in zip(kinds, await pipe.execute(), strict=True)}
