"""What follow-ups need besides their queue: the visitor's one push subscription, unsubscribed and
undeliverable addresses, per-step counters, and the VAPID key subscriptions were made with."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys
from .queue import Queue
from .writer import Writer

STAT_FIELDS = ("scheduled", "sent", "delivered", "clicked", "unsubscribed", "purchases", "revenue",
               "cancelled", "failed", "skipped")


# never creates the key (an erased visitor stays erased, and nothing is left without a TTL)
_HSET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
"""


class FollowUpStore:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys) -> None:
        self.r, self.writer, self.k = r, writer, keys

    # ------------------------------------------------------------ push subscriptions

    def subscribe(self, vid: str, sub: dict[str, Any], key_id: str, now: float, ttl: int) -> None:
        """The visitor's subscription, replacing any earlier one (one per visitor, never a list)."""
        self.writer.cmd("SET", self.k.push_sub(vid), orjson.dumps({**sub, "key": key_id, "at": now, "fails": 0}),
                        "EX", ttl)

    def keep_subscription(self, vid: str, ttl: int) -> None:
        """The visitor is back: their subscription lives as long as they do (no-op without one)."""
        self.writer.cmd("EXPIRE", self.k.push_sub(vid), ttl)

    def unsubscribe_push(self, vid: str) -> None:
        self.writer.cmd("DEL", self.k.push_sub(vid))

    async def subscription(self, vid: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.k.push_sub(vid))
        return orjson.loads(raw) if raw else None

    async def drop_subscription(self, vid: str, endpoint: str) -> None:
        """Drop the subscription if it is still the one that failed (a newer one stays)."""
        sub = await self.subscription(vid)
        if sub is not None and sub.get("endpoint") == endpoint:
            await self.r.delete(self.k.push_sub(vid))

    async def push_failed(self, vid: str, endpoint: str, most: int) -> bool:
        """Count a failed send; True (and dropped) once it failed `most` times in a row."""
        sub = await self.subscription(vid)
        if sub is None or sub.get("endpoint") != endpoint:
            return False
        sub["fails"] = int(sub.get("fails", 0)) + 1
        if sub["fails"] >= most:
            await self.r.delete(self.k.push_sub(vid))
            return True
        await self.r.set(self.k.push_sub(vid), orjson.dumps(sub), xx=True, keepttl=True)
        return False

    async def push_worked(self, vid: str, endpoint: str) -> None:
        sub = await self.subscription(vid)
        if sub is not None and sub.get("endpoint") == endpoint and sub.get("fails"):
            sub["fails"] = 0
            await self.r.set(self.k.push_sub(vid), orjson.dumps(sub), xx=True, keepttl=True)

    # ------------------------------------------------------------ addresses

    async def unsubscribe_email(self, site: str, email: str) -> bool:
        return bool(await self.r.sadd(self.k.unsubscribed(site), email))

    async def undeliverable(self, site: str, email: str) -> None:
        await self.r.sadd(self.k.undeliverable(site), email)

    async def may_email(self, site: str, email: str) -> str | None:
        """Why this address must not get follow-ups, or None."""
        pipe = self.r.pipeline(transaction=False)
        pipe.sismember(self.k.unsubscribed(site), email)
        pipe.sismember(self.k.undeliverable(site), email)
        unsub, undeliv = await pipe.execute()
        return "unsubscribed" if unsub else "undeliverable" if undeliv else None

    # ------------------------------------------------------------ clicks

    async def first_click(self, site: str, plan: str, channel: str, step: int) -> bool:
        """True for the first click on a step of a plan (later clicks are not counted again)."""
        return bool(await self.r.set(self.k.followup_click(site, plan, f"{channel}{step}"), b"1", nx=True,
                                     ex=30 * 86400))

    async def remember_click(self, vid: str, step: str, now: float) -> None:
        """On the visitor, for attributing a later purchase to the step (if the visitor still exists)."""
        await self.r.eval(_HSET_IF_EXISTS, 1, self.k.visitor(vid), "fuclick", f"{step}|{now!r}")

    # ------------------------------------------------------------ counters

    def schedule_counted(self, site: str, channel: str, step: int, jid: str) -> None:
        """Count a scheduled step once however often it is queued (a HyperLogLog of job ids: PFADD of
        an id already in it changes nothing, so a requeued batch cannot count it twice)."""
        self.writer.cmd("PFADD", self.k.followup_scheduled(site, f"{channel}{step}"), jid)

    async def scheduled(self, site: str, channel: str, step: int, jid: str) -> None:
        await self.r.pfadd(self.k.followup_scheduled(site, f"{channel}{step}"), jid)

    async def cancel(self, q: Queue, jids: list[str], why: str, now: float) -> int:
        """Cancel these follow-up jobs and count each cancelled step. Returns how many were cancelled."""
        jobs = await q.cancel(jids, why, now)
        for job in jobs:
            await self.count(job["site"], job["channel"], job["step"], "cancelled")
        return len(jobs)

    def attribute(self, site: str, vid: str, step: str, counts: dict[str, float]) -> None:
        """A purchase after a step's link, queued in the purchase's once-only guard; the click is used up."""
        if not self.writer.in_guard:
            raise RuntimeError("follow-up purchases are counted only inside a once-only guard")
        for what, n in counts.items():
            self.writer.cmd("HINCRBYFLOAT", self.k.followup_stats(site), f"{step}:{what}", n)
        self.writer.cmd("HDEL", self.k.visitor(vid), "fuclick")

    async def count(self, site: str, channel: str, step: int, what: str, n: float = 1) -> None:
        await self.r.hincrbyfloat(self.k.followup_stats(site), f"{channel}{step}:{what}", n)

    async def stats(self, site: str) -> dict[str, dict[str, float]]:
        """{"email1": {"sent": 3, ...}, "push1": {...}}"""
        out: dict[str, dict[str, float]] = {}
        for k, v in (await self.r.hgetall(self.k.followup_stats(site))).items():
            step, _, what = k.decode().partition(":")
            out.setdefault(step, dict.fromkeys(STAT_FIELDS, 0.0))[what] = float(v)
        for channel, most in (("push", 3), ("email", 3)):
            for n in range(1, most + 1):
                scheduled = await self.r.pfcount(self.k.followup_scheduled(site, f"{channel}{n}"))
                if scheduled:
                    out.setdefault(f"{channel}{n}", dict.fromkeys(STAT_FIELDS, 0.0))["scheduled"] = float(scheduled)
        return dict(sorted(out.items()))

    # ------------------------------------------------------------ VAPID

    async def recorded_vapid(self) -> str | None:
        raw = await self.r.get(self.k.vapid)
        return raw.decode() if raw else None

    async def record_vapid(self, public: str) -> str:
        """Record the key if none is recorded yet (two first starts at once agree on one), or replace it
        after a rotation (`force`). Returns the key recorded now."""
        await self.r.set(self.k.vapid, public, nx=True)
        return str((await self.r.get(self.k.vapid) or b"").decode())

    async def rotate_vapid(self, public: str) -> None:
        await self.r.set(self.k.vapid, public)

    async def recorded_secret(self) -> str | None:
        raw = await self.r.get(self.k.link_secret)
        return raw.decode() if raw else None

    async def record_secret(self, fp: str) -> str:
        await self.r.set(self.k.link_secret, fp, nx=True)
        return str((await self.r.get(self.k.link_secret) or b"").decode())
