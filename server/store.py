"""The only module that talks to Redis.

Key layout (every key starts with `redis.prefix`, default `lg:`):

| key                    | type   | holds                                                          |
|------------------------|--------|----------------------------------------------------------------|
| `s:{sid}`              | string | session JSON (core.session.Session); expires session_timeout+1h after a write |
| `v:{vid}`              | hash   | visitor: site, first_seen, last_seen, visits, last_sid, hist (JSON) |
| `live:{site}`          | zset   | sid -> started; sessions not yet ended                         |
| `timers`               | zset   | "kind|sid" -> due time (epoch s); one timer mechanism for all  |
| `done:{vid}`           | set    | ids of client messages already applied (30 days)               |
| `rec:{kind}:{site}`    | list   | durable records: purchase, email, push, popup                  |
| `instances`            | zset   | instance id -> last heartbeat                                  |
| `inst:{instance}`      | set    | sessions with a socket on that instance (closed for it if it dies) |
| `camp:{site}`          | hash   | campaign id -> campaign JSON                                   |
| `campseed:{site}`      | string | set once the site's seed campaigns were loaded                 |
| `cstat:{site}:{cid}`   | hash   | "{variant}:{event}" -> count, "{variant}:revenue" -> sum       |
| `campaigns`            | pubsub | a site key whose campaigns changed (every instance reloads)    |
| `control`              | pubsub | JSON: {"erase": [vids]} - every instance drops those sessions    |
| `lead:{site}:{email}`  | string | lead JSON (core.leads.merge_lead)                              |
| `leads:{site}`         | zset   | email -> first seen; the lead list, paged by score             |
| `vs:{vid}`             | set    | the visitor's session ids (for erasure)                        |
| `wh:{id}`              | string | a pending webhook delivery (JSON: site, url, event, body, attempts, last result) |
| `whq`                  | zset   | delivery id -> when to try next (leased while in flight)        |
| `whlog:{site}`         | list   | delivery log, newest first, capped at 1000 (no payloads)         |
| `events:{site}`        | pubsub | notable session events (left, idle, purchase, ...)             |

Writes on the hot path go through `Writer`, a group commit: everything queued while
one MULTI/EXEC is in flight goes out in the next one, session blobs coalesced per sid.
Callers that need durability await their batch, which is followed by WAITAOF.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger("linger.store")

DONE_TTL = 30 * 86400
MAX_REQUEUE = 1_000_000
RETRY_DELAY = 0.2
VISITOR_TTL = 400 * 86400

_LEASE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return due
"""

_POP_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""

StoreError = RedisError


class Writer:
    """Group commit of hot-path writes: one MULTI/EXEC per batch, WAITAOF when a caller needs it."""

    def __init__(self, r: aioredis.Redis, durable_acks: bool) -> None:
        self._r = r
        self.durable_acks = durable_acks
        self._blobs: dict[str, tuple[Any, int]] = {}
        self._cmds: list[tuple[Any, ...]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._durable = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="linger-writer")

    def blob(self, key: str, value: Any, ttl: int) -> None:
        """Queue SET key (JSON of value) EX ttl. A live object is serialized at flush time, once per
        batch however often it changed, so it is stored as it is when the batch goes out."""
        self._blobs[key] = (value, ttl)
        self._wake.set()

    def cmd(self, *args: Any) -> None:
        self._cmds.append(args)
        self._wake.set()

    def commit(self, durable: bool = False) -> asyncio.Future[None]:
        """A future that resolves once everything queued so far is stored (and fsynced if durable)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._durable = self._durable or durable
        self._wake.set()
        return fut

    @property
    def pending(self) -> bool:
        return bool(self._blobs or self._cmds or self._waiters)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        blobs, cmds, waiters, durable = self._blobs, self._cmds, self._waiters, self._durable
        self._blobs, self._cmds, self._waiters, self._durable = {}, [], [], False
        try:
            pipe = self._r.pipeline(transaction=True)
            for key, (value, ttl) in blobs.items():
                pipe.set(key, orjson.dumps(value), ex=ttl)
            for args in cmds:
                pipe.execute_command(*args)
            await pipe.execute()
            self.batches += 1
            if durable and self.durable_acks:
                await self._waitaof()
        except (RedisError, OSError) as e:
            # Keep the writes for the next batch (newer blobs win); callers waiting for durability are
            # told now, so their clients keep the message in the outbox and resend it.
            requeue = len(cmds) + len(self._cmds) <= MAX_REQUEUE
            log.error("redis write failed (%d writes %s, %d callers told): %s", len(blobs) + len(cmds),
                      "kept for retry" if requeue else "DROPPED: retry queue full", len(waiters), e)
            if requeue:
                self._blobs = {**blobs, **self._blobs}
                self._cmds = cmds + self._cmds
            for w in waiters:
                if not w.done():
                    w.set_exception(StoreError(str(e)))
            await asyncio.sleep(RETRY_DELAY)
            self._wake.set()
            return
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def _waitaof(self) -> None:
        try:
            await self._r.execute_command("WAITAOF", 1, 0, 2000)
        except ResponseError as e:
            log.warning("WAITAOF unavailable (%s): acks now follow the write, not the fsync", e)
            self.durable_acks = False

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()


class Store:
    def __init__(self, url: str, prefix: str = "lg:", durable_acks: bool = True, pool_size: int = 64) -> None:
        self.url = url
        self.p = prefix
        # A blocking pool: under a burst, callers wait for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10,
                                                        health_check_interval=30)
        self.r: aioredis.Redis = aioredis.Redis.from_pool(pool)
        self.writer = Writer(self.r, durable_acks)
        self._pop_due = self.r.register_script(_POP_DUE)
        self._lease_due = self.r.register_script(_LEASE_DUE)

    # ------------------------------------------------------------ lifecycle

    async def open(self, wait: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            try:
                await self.r.ping()
                break
            except (RedisError, OSError) as e:
                if asyncio.get_running_loop().time() > deadline:
                    raise StoreError(f"cannot reach Redis at {self.url}: {e}") from None
                await asyncio.sleep(0.05)
        if self.writer.durable_acks:
            aof = await self.r.config_get("appendonly")
            if aof.get(b"appendonly", aof.get("appendonly")) not in (b"yes", "yes"):
                log.warning("Redis at %s has appendonly off: acks follow the write, not an fsync", self.url)
                self.writer.durable_acks = False
        self.writer.start()

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
        raw = await self.r.get(f"{self.p}s:{sid}")
        return orjson.loads(raw) if raw else None

    async def load_sessions(self, sids: list[str]) -> list[dict[str, Any]]:
        if not sids:
            return []
        raws = await self.r.mget([f"{self.p}s:{s}" for s in sids])
        return [orjson.loads(x) for x in raws if x]

    def save_session(self, sid: str, sess: Any, ttl: int) -> None:
        """Queue the session (a dataclass or dict; orjson serializes either) for the next batch."""
        self.writer.blob(f"{self.p}s:{sid}", sess, ttl)

    def index_session(self, site: str, vid: str, sid: str, started: float) -> None:
        self.writer.cmd("ZADD", f"{self.p}live:{site}", started, sid)
        self.writer.cmd("SADD", f"{self.p}vs:{vid}", sid)
        self.writer.cmd("EXPIRE", f"{self.p}vs:{vid}", VISITOR_TTL)

    def end_session(self, site: str, sid: str) -> None:
        self.writer.cmd("ZREM", f"{self.p}live:{site}", sid)

    async def live_sids(self, site: str, limit: int = 1000) -> list[str]:
        raw = await self.r.zrevrange(f"{self.p}live:{site}", 0, limit - 1)
        return [x.decode() for x in raw]

    async def load_visitor(self, vid: str) -> dict[str, Any] | None:
        raw = await self.r.hgetall(f"{self.p}v:{vid}")
        if not raw:
            return None
        v: dict[str, Any] = {k.decode(): x.decode() for k, x in raw.items()}
        v["vid"] = vid
        v["visits"] = int(v.get("visits", 0))
        v["first_seen"] = float(v.get("first_seen", 0))
        v["hist"] = orjson.loads(v["hist"]) if v.get("hist") else {}
        return v

    def save_visitor(self, vid: str, fields: dict[str, Any]) -> None:
        """HSET the given visitor fields (hist as JSON) and renew the visitor's expiry."""
        key = f"{self.p}v:{vid}"
        flat: list[Any] = []
        for k, x in fields.items():
            flat += [k, orjson.dumps(x) if k == "hist" else x]
        self.writer.cmd("HSET", key, *flat)
        self.writer.cmd("EXPIRE", key, VISITOR_TTL)

    # ------------------------------------------------------------ idempotent client messages

    async def is_done(self, vid: str, mid: str) -> bool:
        return bool(await self.r.sismember(f"{self.p}done:{vid}", mid))

    def mark_done(self, vid: str, mid: str) -> None:
        key = f"{self.p}done:{vid}"
        self.writer.cmd("SADD", key, mid)
        self.writer.cmd("EXPIRE", key, DONE_TTL)

    def record(self, kind: str, site: str, data: dict[str, Any]) -> None:
        self.writer.cmd("RPUSH", f"{self.p}rec:{kind}:{site}", orjson.dumps(data))

    async def records(self, kind: str, site: str, limit: int = 1000) -> list[dict[str, Any]]:
        raw = await self.r.lrange(f"{self.p}rec:{kind}:{site}", -limit, -1)
        return [orjson.loads(x) for x in raw]

    def publish(self, site: str, event: dict[str, Any]) -> None:
        self.writer.cmd("PUBLISH", f"{self.p}events:{site}", orjson.dumps(event))

    # ------------------------------------------------------------ timers

    def schedule(self, kind: str, sid: str, at: float) -> None:
        self.writer.cmd("ZADD", f"{self.p}timers", at, f"{kind}|{sid}")

    def cancel(self, kind: str, sid: str) -> None:
        self.writer.cmd("ZREM", f"{self.p}timers", f"{kind}|{sid}")

    async def pop_due(self, now: float, limit: int = 500) -> list[tuple[str, str]]:
        """Atomically take due timers, so each fires on exactly one instance."""
        raw = await self._pop_due(keys=[f"{self.p}timers"], args=[now, limit])
        out = []
        for m in raw:
            kind, _, sid = m.decode().partition("|")
            out.append((kind, sid))
        return out

    # ------------------------------------------------------------ leads

    async def load_lead(self, site: str, email: str) -> dict[str, Any] | None:
        raw = await self.r.get(f"{self.p}lead:{site}:{email}")
        return orjson.loads(raw) if raw else None

    def save_lead(self, lead: dict[str, Any]) -> None:
        site, email = lead["site"], lead["email"]
        self.writer.cmd("SET", f"{self.p}lead:{site}:{email}", orjson.dumps(lead))
        self.writer.cmd("ZADD", f"{self.p}leads:{site}", "NX", lead["first_seen"], email)
        for vid in lead["vids"][-1:]:
            self.writer.cmd("HSET", f"{self.p}v:{vid}", "email", email)

    async def lead_page(self, site: str, after: tuple[float, str] | None, limit: int) -> list[dict[str, Any]]:
        """Leads by first-seen time, oldest first, strictly after the (score, email) cursor."""
        lo = after[0] if after else "-inf"
        out: list[dict[str, Any]] = []
        offset = 0
        while len(out) < limit:
            rows = await self.r.zrangebyscore(f"{self.p}leads:{site}", lo, "+inf", start=offset,
                                              num=limit + 50, withscores=True)
            if not rows:
                break
            offset += len(rows)
            emails = [e.decode() for e, score in rows
                      if not after or score > after[0] or (score == after[0] and e.decode() > after[1])]
            if emails:
                raws = await self.r.mget([f"{self.p}lead:{site}:{e}" for e in emails])
                out += [orjson.loads(x) for x in raws if x]
        return out[:limit]

    async def erase_lead(self, site: str, email: str, kinds: tuple[str, ...],
                         vids: set[str] | None = None) -> dict[str, int]:
        """GDPR erasure: the lead and every trace of its visitors (sessions, ids, records, timers)."""
        lead = await self.load_lead(site, email)
        vids = set(vids or ()) | (set(lead["vids"]) if lead else set())
        sids: set[str] = set()
        for vid in vids:
            sids |= {x.decode() for x in await self.r.smembers(f"{self.p}vs:{vid}")}
        instances = [i.decode() for i in await self.r.zrange(f"{self.p}instances", 0, -1)]
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(f"{self.p}lead:{site}:{email}")
        if sids:
            for inst in instances:
                pipe.srem(f"{self.p}inst:{inst}", *sids)
        pipe.zrem(f"{self.p}leads:{site}", email)
        for vid in vids:
            pipe.delete(f"{self.p}v:{vid}", f"{self.p}vs:{vid}", f"{self.p}done:{vid}")
        for sid in sids:
            pipe.delete(f"{self.p}s:{sid}")
            pipe.zrem(f"{self.p}live:{site}", sid)
            pipe.zrem(f"{self.p}timers", *(f"{k}|{sid}" for k in ("idle", "leave", "end", "camp")))
        await pipe.execute()
        needles = [x.encode() for x in (vids | sids | {email})]
        removed = 0
        for kind in kinds:  # records mention visitors by id: drop every entry that names one
            key = f"{self.p}rec:{kind}:{site}"
            for raw in await self.r.lrange(key, 0, -1):
                if any(n in raw for n in needles):
                    removed += await self.r.lrem(key, 0, raw)
        removed += await self._erase_deliveries(needles)  # a pending lead.captured must not go out now
        if vids:
            await self.r.publish(f"{self.p}control", orjson.dumps({"erase": sorted(vids)}))
        return {"visitors": len(vids), "sessions": len(sids), "records": removed, "lead": int(lead is not None)}

    # ------------------------------------------------------------ webhooks

    def enqueue_delivery(self, delivery: dict[str, Any], at: float) -> None:
        """Queued in the same batch as the event that caused it, so neither is stored without the other."""
        self.writer.cmd("SET", f"{self.p}wh:{delivery['id']}", orjson.dumps(delivery))
        self.writer.cmd("ZADD", f"{self.p}whq", at, delivery["id"])

    async def lease_deliveries(self, now: float, lease: float, limit: int = 20) -> list[dict[str, Any]]:
        """Take due deliveries for `lease` seconds: if this instance dies mid-delivery, they come due again."""
        ids = await self._lease_due(keys=[f"{self.p}whq"], args=[now, limit, now + lease])
        if not ids:
            return []
        raws = await self.r.mget([f"{self.p}wh:{i.decode()}" for i in ids])
        gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if gone:
            await self.r.zrem(f"{self.p}whq", *gone)
        return [orjson.loads(raw) for raw in raws if raw]

    async def delivery_done(self, d: dict[str, Any], log_entry: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(f"{self.p}whq", d["id"])
        pipe.delete(f"{self.p}wh:{d['id']}")
        pipe.lpush(f"{self.p}whlog:{d['site']}", orjson.dumps(log_entry))
        pipe.ltrim(f"{self.p}whlog:{d['site']}", 0, 999)
        await pipe.execute()

    async def delivery_retry(self, d: dict[str, Any], at: float) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(f"{self.p}wh:{d['id']}", orjson.dumps(d))
        pipe.zadd(f"{self.p}whq", {d["id"]: at})
        await pipe.execute()

    async def delivery_log(self, site: str, limit: int = 100) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in await self.r.lrange(f"{self.p}whlog:{site}", 0, limit - 1)]

    async def pending_deliveries(self, site: str) -> list[dict[str, Any]]:
        ids = await self.r.zrange(f"{self.p}whq", 0, -1)
        if not ids:
            return []
        raws = await self.r.mget([f"{self.p}wh:{i.decode()}" for i in ids])
        return [d for d in (orjson.loads(x) for x in raws if x) if d["site"] == site]

    async def _erase_deliveries(self, needles: list[bytes]) -> int:
        removed = 0
        for i in await self.r.zrange(f"{self.p}whq", 0, -1):
            raw = await self.r.get(f"{self.p}wh:{i.decode()}")
            if raw is None or any(n in raw for n in needles):
                await self.r.delete(f"{self.p}wh:{i.decode()}")
                await self.r.zrem(f"{self.p}whq", i)
                removed += 1
        return removed

    # ------------------------------------------------------------ campaigns

    async def load_campaigns(self, site: str) -> list[dict[str, Any]]:
        raw = await self.r.hgetall(f"{self.p}camp:{site}")
        return [orjson.loads(x) for x in raw.values()]

    async def load_campaign(self, site: str, cid: str) -> dict[str, Any] | None:
        raw = await self.r.hget(f"{self.p}camp:{site}", cid)
        return orjson.loads(raw) if raw else None

    async def save_campaign(self, site: str, camp: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(f"{self.p}camp:{site}", camp["id"], orjson.dumps(camp))
        pipe.set(f"{self.p}campseed:{site}", 1)
        pipe.publish(f"{self.p}campaigns", site)
        await pipe.execute()

    async def delete_campaign(self, site: str, cid: str) -> bool:
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(f"{self.p}camp:{site}", cid)
        pipe.publish(f"{self.p}campaigns", site)
        removed, _ = await pipe.execute()
        return bool(removed)

    async def seed_campaigns(self, site: str, camps: list[dict[str, Any]]) -> bool:
        """Store the seed set once per site (never again, even after the merchant deletes them)."""
        if not await self.r.set(f"{self.p}campseed:{site}", 1, nx=True):
            return False
        if camps:
            await self.r.hset(f"{self.p}camp:{site}", mapping={c["id"]: orjson.dumps(c) for c in camps})
        return True

    def count_stat(self, site: str, cid: str, var: str, ev: str, revenue: float | None = None) -> None:
        key = f"{self.p}cstat:{site}:{cid}"
        self.writer.cmd("HINCRBY", key, f"{var}:{ev}", 1)
        if revenue is not None:
            self.writer.cmd("HINCRBYFLOAT", key, f"{var}:revenue", revenue)

    async def campaign_stats(self, site: str, cid: str) -> dict[str, float]:
        raw = await self.r.hgetall(f"{self.p}cstat:{site}:{cid}")
        return {k.decode(): float(x) for k, x in raw.items()}

    async def listen(self, on_campaigns: Callable[[str], Awaitable[None]],
                     on_control: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Call on_campaigns(site) when any instance changes a site's campaigns, on_control(msg) for
        control messages (erasure). Runs until cancelled."""
        while True:
            pubsub = self.r.pubsub()
            try:
                await pubsub.subscribe(f"{self.p}campaigns", f"{self.p}control")
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    if msg["channel"].decode().endswith("campaigns"):
                        await on_campaigns(msg["data"].decode())
                    else:
                        await on_control(orjson.loads(msg["data"]))
            except (RedisError, OSError) as e:
                log.error("campaign listener: %s; resubscribing", e)
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()

    # ------------------------------------------------------------ instances

    async def heartbeat(self, instance: str, now: float, dead_after: float) -> tuple[set[str], list[str]]:
        """Record this instance as alive. Returns the instances alive within `dead_after` seconds, and
        the ones that went silent that this instance has claimed (each is claimed by exactly one)."""
        key = f"{self.p}instances"
        pipe = self.r.pipeline(transaction=False)
        pipe.zadd(key, {instance: now})
        pipe.zrangebyscore(key, now - dead_after, "+inf")
        pipe.zrangebyscore(key, "-inf", now - dead_after)
        _, alive, silent = await pipe.execute()
        claimed = [i.decode() for i in silent if await self.r.zrem(key, i)]
        return {x.decode() for x in alive}, claimed

    def track_conn(self, instance: str, sid: str, open_: bool) -> None:
        """Which sessions have sockets on which instance, so a crashed instance's can be closed."""
        key = f"{self.p}inst:{instance}"
        if open_:
            self.writer.cmd("SADD", key, sid)
            self.writer.cmd("EXPIRE", key, 7 * 86400)
        else:
            self.writer.cmd("SREM", key, sid)

    async def take_instance_sessions(self, instance: str) -> list[str]:
        key = f"{self.p}inst:{instance}"
        pipe = self.r.pipeline(transaction=True)
        pipe.smembers(key)
        pipe.delete(key)
        sids, _ = await pipe.execute()
        return [x.decode() for x in sids]

    async def forget_instance(self, instance: str) -> None:
        await self.r.zrem(f"{self.p}instances", instance)

    async def info_memory(self) -> int:
        info = await self.r.info("memory")
        return int(info.get("used_memory", 0))
