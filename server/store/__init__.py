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
from .funnel import Funnel
from .instances import Instances
from .keys import Keys
from .leads import Leads
from .queue import Queue
from .records import Records
from .sessions import SessionStore
from .timers import Timers
from .users import Users
from .writer import WriteFailed, Writer

log = logging.getLogger("linger.store")

StoreError = RedisError  # anything Redis did not do: callers answer `unavailable` and keep going
DONE_TTL = 30 * 86400
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
        self.sessions = SessionStore(self.r, self.writer, self.k)
        self.users = Users(self.r, self.k)
        self.funnel = Funnel(self.r, self.writer, self.k)
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
