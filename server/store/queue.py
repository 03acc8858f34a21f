"""A durable job queue with lanes, due times, leases, backoff, an attempt log and once-only claims.
Webhook deliveries run on it; web push and follow-up emails do too.

- **Jobs** are JSON objects with at least `id` and `site` (and `vid` when a visitor caused them, so
  erasure finds them). A job id is `{lane}-{rest}`: the lane (an endpoint, a push service) is read
  from the id, so the worker can tell lanes apart without loading the job.
- **Lanes.** One sorted set per lane (id -> when to try next), and an index of lanes by their
  earliest due job. However long one lane's backlog is, no other lane's jobs wait behind it.
- **Leases.** A worker takes due jobs by moving them `until` ahead; a worker that dies mid-job
  leaves them to come due again (at-least-once; jobs carry their id for receivers to deduplicate).
- **Once only.** Enqueueing is `SET NX`, queued in the same batch as the event that caused it,
  and a finished job (done, given up, cancelled) leaves a tombstone under its id for the job's
  lifetime. So a repeated event, a requeued batch or another instance never queues it again, and a
  cancelled job that was already leased is not carried out (`still_wanted`). Tombstones live a
  day (TOMBSTONE_TTL) and stay in the visitor's index, so an erasure removes them too.
- **Attempt log.** Each job keeps its last attempts (`tries`), and each site a capped log of
  finished jobs, newest first, without payloads.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import QueueKeys
from .writer import Writer

JOB_TTL = 7 * 86400
TOMBSTONE_TTL = 86400  # a finished job's id is refused this long (repeats come within seconds or minutes)
LOG_SIZE = 1000
TRIES_KEPT = 10

# Lease up to ARGV[3] due jobs of one lane until ARGV[2]; keep the lane index at the lane's
# earliest remaining time (or drop the lane when it is empty).
_LEASE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[1] then redis.call('ZADD', KEYS[2], first[2], ARGV[4]) else redis.call('ZREM', KEYS[2], ARGV[4]) end
return due
"""

# A job leaves its lane (gone); the index follows.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[1] then redis.call('ZADD', KEYS[2], first[2], ARGV[2]) else redis.call('ZREM', KEYS[2], ARGV[2]) end
return 1
"""

# Whether a stored job is finished (a tombstone); cjson's null is truthy in Lua, so test it by name.
_DONE = """
local function finished(raw)
  local d = cjson.decode(raw)['done']
  return d ~= nil and d ~= cjson.null and d ~= false
end
"""

# A job is over, unless it already was (the first of "delivered" and "cancelled" wins): it leaves its
# lane, its body becomes a tombstone for TOMBSTONE_TTL (its id stays in the visitor's index, so an
# erasure finds the tombstone too), and the entry goes to the site's capped log.
_FINISH = _DONE + """
local cur = redis.call('GET', KEYS[3])
if cur and finished(cur) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[1] then redis.call('ZADD', KEYS[2], first[2], ARGV[2]) else redis.call('ZREM', KEYS[2], ARGV[2]) end
if not cur then return 0 end
local ttl = redis.call('TTL', KEYS[3])
if ttl < 0 or ttl > tonumber(ARGV[6]) then ttl = tonumber(ARGV[6]) end
redis.call('SET', KEYS[3], ARGV[3], 'EX', math.max(ttl, 1))
redis.call('LPUSH', KEYS[5], ARGV[4])
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[5]) - 1)
if ARGV[7] ~= '' and redis.call('SET', KEYS[6], ARGV[7], 'NX', 'EX', ARGV[11]) then
  redis.call('ZADD', KEYS[7], 'NX', ARGV[8], ARGV[9])
  redis.call('ZADD', KEYS[2], 'LT', ARGV[8], ARGV[10])
  if ARGV[12] == '1' then
    redis.call('SADD', KEYS[8], ARGV[9])
    redis.call('EXPIRE', KEYS[8], ARGV[11], 'GT')
    redis.call('EXPIRE', KEYS[8], ARGV[11], 'NX')
  end
end
return 1
"""

# Try a pending job again later, unless it finished meanwhile.
_RETRY = _DONE + """
local cur = redis.call('GET', KEYS[1])
if not cur or finished(cur) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], 'LT', ARGV[2], ARGV[4])
return 1
"""


def lane_of(jid: str) -> str:
    return jid.partition("-")[0]


class Queue:
    def __init__(self, r: aioredis.Redis, writer: Writer, name: str, keys: QueueKeys,
                 ttl: int = JOB_TTL) -> None:
        self.r, self.writer, self.name, self.q, self.ttl = r, writer, name, keys, ttl
        self._lease = self.r.register_script(_LEASE)
        self._leave = self.r.register_script(_LEAVE)
        self._finish = self.r.register_script(_FINISH)
        self._retry = self.r.register_script(_RETRY)

    def job_key(self, jid: str) -> str:
        return self.q.job + jid

    def lane_key(self, lane: str) -> str:
        return self.q.lane + lane

    # ------------------------------------------------------------ adding and removing

    def enqueue(self, job: dict[str, Any], at: float) -> None:
        """Queue `job` to run at `at`, in the writer's batch with whatever caused it (inside its
        guard, if any), so neither is stored without the other. An id queued before (pending or
        finished) keeps what it has: the lane entry that a repeat may add is dropped at lease."""
        jid = job["id"]
        if "done" in job:
            raise ValueError("'done' is reserved: it marks a finished job")
        lane = lane_of(jid)
        ttl = self.ttl_until(at)
        self.writer.cmd("SET", self.job_key(jid), orjson.dumps(job), "NX", "EX", ttl)
        self.writer.cmd("ZADD", self.lane_key(lane), "NX", at, jid)
        self.writer.cmd("ZADD", self.q.lanes, "LT", at, lane)
        if job.get("vid"):
            self.writer.cmd("SADD", self.q.visitor + job["vid"], jid)
            self.writer.cmd("EXPIRE", self.q.visitor + job["vid"], ttl, "GT")
            self.writer.cmd("EXPIRE", self.q.visitor + job["vid"], ttl, "NX")

    def ttl_until(self, at: float) -> int:
        """A job is kept `ttl` seconds past its due time, however far ahead that is."""
        return int(self.ttl + max(0.0, at - time.time()))

    async def cancel(self, jids: list[str], why: str, now: float) -> list[dict[str, Any]]:
        """Finish pending jobs without running them (a shopper came back or bought). Returns the jobs
        this cancelled. A job already leased is cancelled too: its worker checks `still_wanted` right
        before acting, and its outcome never overwrites the cancellation."""
        out = []
        for jid in jids:
            raw = await self.r.get(self.job_key(jid))
            job = orjson.loads(raw) if raw else None
            if job and not job.get("done"):
                entry = {"id": jid, "status": "cancelled", "why": why, "at": now,
                         **{k: job[k] for k in ("channel", "step") if k in job}}
                if await self.finish(job, entry):
                    out.append(job)
        return out

    # ------------------------------------------------------------ working

    async def due_lanes(self, now: float, limit: int = 200) -> list[str]:
        """Lanes with a job due, most overdue first."""
        raw = await self.r.zrangebyscore(self.q.lanes, "-inf", now, start=0, num=limit)
        return [x.decode() for x in raw]

    async def lease(self, lane: str, n: int, now: float, until: float) -> list[dict[str, Any]]:
        """Take up to n due jobs of one lane until `until`: if this instance dies mid-job, they come
        due again. Jobs whose body is gone or finished are dropped from the lane."""
        qkey = self.lane_key(lane)
        ids = [x.decode() for x in await self._lease(keys=[qkey, self.q.lanes], args=[now, repr(until), n, lane])]
        if not ids:
            return []
        out = []
        for jid, raw in zip(ids, await self.r.mget([self.job_key(i) for i in ids]), strict=True):
            job = orjson.loads(raw) if raw else None
            if job is None or job.get("done"):
                await self._leave(keys=[qkey, self.q.lanes], args=[jid, lane])
            else:
                out.append(job)
        return out

    async def claim(self, jid: str) -> bool:
        """Claim the one attempt that may act on the outside world (send a mail, a push) for this job:
        True once, False ever after, on every instance. Taken right before sending, so a worker that
        dies between claiming and finishing leaves a job that is finished unsent rather than sent
        twice (at most once, for messages people read)."""
        return bool(await self.r.set(self.job_key(jid) + ":claim", b"1", nx=True, ex=self.ttl))

    async def release(self, jid: str) -> None:
        """The claimed attempt did not reach the outside world (refused, no connection): the next
        attempt may claim it again."""
        await self.r.delete(self.job_key(jid) + ":claim")

    async def still_wanted(self, jid: str) -> bool:
        """False once the job was cancelled or finished elsewhere (check right before acting)."""
        raw = await self.r.get(self.job_key(jid))
        return raw is not None and not orjson.loads(raw).get("done")

    async def finish(self, job: dict[str, Any], entry: dict[str, Any], then: dict[str, Any] | None = None) -> bool:
        """The job is over (`entry["status"]`: delivered, failed, dropped, cancelled, ...). False if
        it already was (cancelled meanwhile, or erased): then nothing changes. `then` is a job to
        queue in the same step, only if this one finished here (a plan's next step: never after an
        erasure or a cancellation, never twice)."""
        jid, lane, vid = job["id"], lane_of(job["id"]), job.get("vid") or ""
        tomb = orjson.dumps({"id": jid, "done": entry["status"], "at": entry.get("at")})
        nxt = then or {"id": "", "at": 0.0}
        nlane, nvid = lane_of(nxt["id"]), nxt.get("vid") or vid
        return bool(await self._finish(
            keys=[self.lane_key(lane), self.q.lanes, self.job_key(jid), self.q.visitor + vid, self.q.log + job["site"],
                  self.job_key(nxt["id"]), self.lane_key(nlane), self.q.visitor + nvid],
            args=[jid, lane, tomb, orjson.dumps(entry), LOG_SIZE, TOMBSTONE_TTL,
                  orjson.dumps(then) if then else "", repr(nxt["at"]), nxt["id"], nlane,
                  self.ttl_until(nxt["at"]), "1" if nvid else "0"]))

    async def retry(self, job: dict[str, Any], at: float, tried: dict[str, Any]) -> bool:
        """Try again at `at` (the caller's backoff), noting the attempt in the job's log. False if
        the job finished meanwhile (cancelled): it stays finished."""
        jid = job["id"]
        job["tries"] = [*job.get("tries", ()), tried][-TRIES_KEPT:]
        return bool(await self._retry(keys=[self.job_key(jid), self.lane_key(lane_of(jid)), self.q.lanes],
                                      args=[orjson.dumps(job), repr(at), jid, lane_of(jid), self.ttl_until(at)]))

    # ------------------------------------------------------------ reading

    async def log(self, site: str, limit: int = 100) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in await self.r.lrange(self.q.log + site, 0, limit - 1)]

    async def pending(self, site: str, lanes: list[str], limit: int = 1000) -> list[dict[str, Any]]:
        """Pending jobs of a site in these lanes (oldest due first, at most `limit`)."""
        out: list[dict[str, Any]] = []
        for lane in lanes:
            ids = await self.r.zrange(self.lane_key(lane), 0, limit - 1)
            if ids:
                raws = await self.r.mget([self.job_key(i.decode()) for i in ids])
                out += [j for j in (orjson.loads(x) for x in raws if x) if j.get("site") == site and not j.get("done")]
        return out[:limit]

    async def visitor_jobs(self, vid: str) -> list[dict[str, Any]]:
        """The visitor's pending jobs."""
        ids = [x.decode() for x in await self.r.smembers(self.q.visitor + vid)]
        raws = await self.r.mget([self.job_key(i) for i in ids]) if ids else []
        return [j for j in (orjson.loads(x) for x in raws if x) if not j.get("done")]

    async def migrate_legacy(self) -> int:
        """Move jobs queued by an older version (one sorted set for every lane) into lanes."""
        if not self.q.legacy:
            return 0
        moved = 0
        async for jid_raw, score in self.r.zscan_iter(self.q.legacy, count=500):
            jid = jid_raw.decode()
            pipe = self.r.pipeline(transaction=True)
            pipe.zadd(self.lane_key(lane_of(jid)), {jid: score}, nx=True)
            pipe.zadd(self.q.lanes, {lane_of(jid): score}, lt=True)
            pipe.zrem(self.q.legacy, jid)
            await pipe.execute()
            moved += 1
        return moved
