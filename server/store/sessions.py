"""Sessions (one JSON blob each, written by the writer's batches) and visitors (a hash each): see the
layout table in keys.py."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys
from .writer import Writer

MAX_VISITOR_SESSIONS = 1000  # a visitor's sessions indexed for erasure; older ones have long expired


class SessionStore:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys

    async def load(self, sid: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.k.session(sid))
        return orjson.loads(raw) if raw else None

    async def load_many(self, sids: list[str]) -> list[dict[str, Any]]:
        if not sids:
            return []
        raws = await self.r.mget([self.k.session(s) for s in sids])
        return [orjson.loads(x) for x in raws if x]

    def save(self, sid: str, sess: Any, ttl: int) -> None:
        """Queue the session (a dataclass or dict; orjson serializes either) for the next batch."""
        self.writer.blob(self.k.session(sid), sess, ttl)

    def index(self, site: str, vid: str, sid: str, started: float, ttl: int) -> None:
        key = self.k.visitor_sessions(vid)
        self.writer.cmd("ZADD", self.k.live(site), started, sid)
        self.writer.cmd("ZADD", key, started, sid)
        self.writer.cmd("ZREMRANGEBYRANK", key, 0, -(MAX_VISITOR_SESSIONS + 1))  # the newest only
        self.writer.cmd("EXPIRE", key, ttl)

    def end(self, site: str, sid: str) -> None:
        self.writer.cmd("ZREM", self.k.live(site), sid)

    async def live_sids(self, site: str, limit: int = 1000) -> list[str]:
        raw = await self.r.zrevrange(self.k.live(site), 0, limit - 1)
        return [x.decode() for x in raw]

    async def load_visitor(self, vid: str) -> dict[str, Any] | None:
        raw = await self.r.hgetall(self.k.visitor(vid))
        if not raw:
            return None
        v: dict[str, Any] = {k.decode(): x.decode() for k, x in raw.items()}
        v["vid"] = vid
        v["visits"] = int(v.get("visits", 0))
        v["first_seen"] = float(v.get("first_seen", 0))
        v["hist"] = orjson.loads(v["hist"]) if v.get("hist") else {}
        # visitors stored before "engaged" existed count as engaged if they left any trace
        v["engaged"] = v.get("engaged") == "1" or ("engaged" not in v and bool(v["hist"] or v.get("email")))
        return v

    def save_visitor(self, vid: str, fields: dict[str, Any], ttl: int) -> None:
        """HSET the given visitor fields (hist as JSON) and set the visitor's expiry."""
        flat: list[Any] = []
        for k, x in fields.items():
            flat += [k, orjson.dumps(x) if k == "hist" else (int(x) if isinstance(x, bool) else x)]
        if flat:
            self.writer.cmd("HSET", self.k.visitor(vid), *flat)
        self.writer.cmd("EXPIRE", self.k.visitor(vid), ttl)
        self.writer.cmd("EXPIRE", self.k.visitor_sessions(vid), ttl)
