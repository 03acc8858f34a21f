"""Durable records per site (purchase, push, popupev, alert): a hash of record id -> JSON, a sorted
set of record id -> time for order and retention, and a per-visitor index so that erasure
touches only that visitor's records, never the whole list."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer

if TYPE_CHECKING:
    from . import Retention


def mint_rid() -> str:
    return secrets.token_urlsafe(12)


class Records:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys, retention: Retention) -> None:
        self.r, self.writer, self.k, self.retention = r, writer, keys, retention

    def add(self, kind: str, site: str, vid: str, data: dict[str, Any], at: float, rid: str | None = None) -> str:
        """Queue one record. A given `rid` makes a retried write land once."""
        rid = rid or mint_rid()
        self.writer.cmd("HSET", self.k.records(kind, site), rid, orjson.dumps(data))
        self.writer.cmd("ZADD", self.k.records_by_time(kind, site), at, rid)
        if vid:  # the visitor's index keeps only what retention keeps
            idx = self.k.visitor_records(vid)
            self.writer.cmd("ZADD", idx, at, f"{kind}|{site}|{rid}")
            if self.retention.records:
                self.writer.cmd("ZREMRANGEBYSCORE", idx, "-inf", at - self.retention.records)
                self.writer.cmd("EXPIRE", idx, int(self.retention.records))
        return rid

    async def newest(self, kind: str, site: str, limit: int = 1000) -> list[dict[str, Any]]:
        rids = await self.r.zrevrange(self.k.records_by_time(kind, site), 0, limit - 1)
        if not rids:
            return []
        raws = await self.r.hmget(self.k.records(kind, site), rids)
        return [orjson.loads(x) for x in raws if x]

    async def count(self, kind: str, site: str) -> int:
        return int(await self.r.zcard(self.k.records_by_time(kind, site)))

    def forget(self, pipe: Any, kind: str, site: str, rid: str) -> None:
        pipe.hdel(self.k.records(kind, site), rid)
        pipe.zrem(self.k.records_by_time(kind, site), rid)

    async def trim(self, kind: str, site: str, before: float, limit: int = 1000) -> int:
        """Drop up to `limit` records older than `before` (retention); returns how many."""
        zkey = self.k.records_by_time(kind, site)
        rids = await self.r.zrangebyscore(zkey, "-inf", before, start=0, num=limit)
        if not rids:
            return 0
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.k.records(kind, site), *rids)
        pipe.zrem(zkey, *rids)
        await pipe.execute()
        return len(rids)
