"""The only package that talks to Redis. The key layout is the table in `keys.py`.

Writes on the hot path go through `Writer` (writer.py): a group commit on one dedicated
connection, WAITAOF on that same connection for acks, and the effects of a client message
with an id claimed and applied in one step. Reads use a pool.

Durability: what a caller awaits from `writer.commit(durable=True)` is in Redis's append-only
file and fsynced. Everything else is written through, in order, within a batch of it happening.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..health import Health
from ..redact import redact_url
from .bus import Bus
from .campaigns import Campaigns
from .followups import FollowUpStore
from .instances import Instances
from .keys import Keys
from .leads import Leads
from .queue import Queue
from .records import Records
from .timers import Timers
from .writer import WriteFailed, Writer

log = logging.getLogger("linger.store")

StoreError = RedisError  # anything Redis did not do: callers answer `unavailable` and keep going
DONE_TTL = 30 * 86400
MAX_VISITOR_SESSIONS = 1000  # a visitor's sessions indexed for erasure; older ones have long expired
SOCKET_TIMEOUT_S = 10.0
QUEUES = ("webhooks", "followups")  # every durable job queue
ERASURE_KEEP_S = 3600  # a Redis that stops answering (stalled, partitioned) fails calls instead of hanging them


@dataclass(frozen=True, slots=True)
class Retention:
    """How long things are kept, in seconds (0 keeps forever)."""

    records: float = 90 * 86400
    visitors: float = 400 * 86400
    leads_unconsented: float = 30 * 86400
    leads: float = 1095 * 86400


class Store:
    def __init__(self, url: str, prefix: str = "lg:", durable_acks: bool = True, pool_size: int = 64,
                 retention: Retention | None = None, health: Health | None = None) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        self.k = Keys(prefix)
        self.retention = retention or Retention()
        self.health = health or Health()
        # A blocking pool: under a burst, callers wait for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10,
                                                        health_check_interval=30, socket_timeout=SOCKET_TIMEOUT_S,
                                                        socket_connect_timeout=5)
        self.r: aioredis.Redis = aioredis.Redis.from_pool(pool)
        self.writer = Writer(url, durable_acks, self.k.fsync, self._writer_state)
        self.records = Records(self.r, self.writer, self.k, self.retention)
        self.timers = Timers(self.r, self.writer, self.k)
        self.queues = {name: Queue(self.r, self.writer, name, self.k.queue(name)) for name in QUEUES}
        self.leads = Leads(self.r, self.writer, self.k, self.retention, self.records, self.queues)
        self.webhooks = self.queue("webhooks")
        self.campaigns = Campaigns(self.r, self.writer, self.k)
        self.bus = Bus(self.r, self.health)
        self.instances = Instances(self.r, self.writer, self.k)
        self.followups = FollowUpStore(self.r, self.writer, self.k)
        self.appendonly: str = "unknown"

    def queue(self, name: str) -> Queue:
        """The durable job queue `name` (one of QUEUES: every one exists from the start, so an
        erasure on any instance covers every queue's jobs)."""
        return self.queues[name]

    def _writer_state(self, up: bool, why: str) -> None:
        if up:
            self.health.ok("redis writes")
        else:
            self.health.fail("redis writes", why)

    # ------------------------------------------------------------ lifecycle

    async def open(self, wait: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            try:
                await self.r.ping()
                break
            except (RedisError, OSError) as e:
                if asyncio.get_running_loop().time() > deadline:
                    raise WriteFailed(f"cannot reach Redis at {self.safe_url}: {e}") from None
                await asyncio.sleep(0.05)
        if self.writer.durable_acks:
            await self._check_appendonly()
        self.writer.start()

    async def _check_appendonly(self) -> None:
        try:
            aof = await self.r.config_get("appendonly")
        except ResponseError as e:  # managed services often refuse CONFIG
            log.warning("cannot read appendonly from Redis (%s): durability unknown; every ack still waits "
                        "for WAITAOF to report a local fsync", e)
            return
        value = aof.get(b"appendonly", aof.get("appendonly"))
        self.appendonly = "yes" if value in (b"yes", "yes") else "no"
        self.writer.aof_unknown = False
        if self.appendonly == "no":
            log.warning("Redis at %s has appendonly off: acks follow the write, not an fsync", self.safe_url)
            self.writer.durable_acks = False

    async def close(self) -> None:
        await self.writer.close()
        await self.r.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.r.ping())
        except (RedisError, OSError):
            return False

    # ------------------------------------------------------------ sessions and visitors

    async def load_session(self, sid: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.k.session(sid))
        return orjson.loads(raw) if raw else None

    async def load_sessions(self, sids: list[str]) -> list[dict[str, Any]]:
        if not sids:
            return []
        raws = await self.r.mget([self.k.session(s) for s in sids])
        return [orjson.loads(x) for x in raws if x]

    def save_session(self, sid: str, sess: Any, ttl: int) -> None:
        """Queue the session (a dataclass or dict; orjson serializes either) for the next batch."""
        self.writer.blob(self.k.session(sid), sess, ttl)

    def index_session(self, site: str, vid: str, sid: str, started: float, ttl: int) -> None:
        key = self.k.visitor_sessions(vid)
        self.writer.cmd("ZADD", self.k.live(site), started, sid)
        self.writer.cmd("ZADD", key, started, sid)
        self.writer.cmd("ZREMRANGEBYRANK", key, 0, -(MAX_VISITOR_SESSIONS + 1))  # the newest only
        self.writer.cmd("EXPIRE", key, ttl)

    def end_session(self, site: str, sid: str) -> None:
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

    # ------------------------------------------------------------ idempotent client messages

    async def is_done(self, vid: str, mid: str) -> bool:
        pipe = self.r.pipeline(transaction=False)
        pipe.zscore(self.k.done(vid), mid)
        pipe.sismember(self.k.legacy_done(vid), mid)
        new, old = await pipe.execute()
        return new is not None or bool(old)

    @contextmanager
    def applying(self, vid: str, mid: str, now: float | None = None) -> Iterator[None]:
        """Writes queued in this block happen once per (visitor, id), claimed in the same step; ids
        are remembered for 30 days."""
        with self.writer.guarded(self.k.done(vid), mid, time.time() if now is None else now, DONE_TTL):
            yield

    def publish(self, site: str, event: dict[str, Any]) -> None:
        self.writer.cmd("PUBLISH", self.k.events_channel(site), orjson.dumps(event), keys=0)

    async def probe_write(self) -> bool:
        """Whether Redis takes a write right now (reachable is not enough: full or read-only)."""
        try:
            await self.r.set(self.k.health, int(time.time()), ex=60)
            return True
        except (RedisError, OSError):
            return False

    # ------------------------------------------------------------ erasure across instances

    async def announce_erasure(self, eid: str, vids: list[str], now: float) -> None:
        """Tell every instance to drop these visitors: published at once, and kept an hour for any
        instance that missed the message (each replays recent erasures on its heartbeat)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k.erasure(eid), orjson.dumps(vids), ex=ERASURE_KEEP_S)
        pipe.zadd(self.k.erasures, {eid: now})
        pipe.zremrangebyscore(self.k.erasures, "-inf", now - ERASURE_KEEP_S)
        pipe.publish(self.k.control_channel, orjson.dumps({"erase": vids, "id": eid}))
        await pipe.execute()

    async def erasures_since(self, since: float) -> list[tuple[str, list[str], float]]:
        """(id, visitors, when) of the erasures announced after `since`."""
        rows = await self.r.zrangebyscore(self.k.erasures, f"({since!r}", "+inf", withscores=True)
        if not rows:
            return []
        raws = await self.r.mget([self.k.erasure(e.decode()) for e, _ in rows])
        return [(e.decode(), orjson.loads(raw), score) for (e, score), raw in zip(rows, raws, strict=True) if raw]

    async def ack_erasure(self, eid: str, instance: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.sadd(self.k.erasure_acks(eid), instance)
        pipe.expire(self.k.erasure_acks(eid), ERASURE_KEEP_S)
        await pipe.execute()

    async def erasure_acks(self, eid: str) -> set[str]:
        return {x.decode() for x in await self.r.smembers(self.k.erasure_acks(eid))}

    async def info_memory(self) -> int:
        info = await self.r.info("memory")
        return int(info.get("used_memory", 0))


__all__ = ["Retention", "Store", "StoreError", "WriteFailed"]
