"""Leads, the email -> visitors index, retention of leads without consent, and GDPR erasure.

Erasure never scans: it follows indexes (the address's visitors, their sessions, records and
pending deliveries) and deletes in small pipelines, so a shopper's erasure costs other shoppers
no noticeable stall however large the site's lists are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys
from .records import Records
from .writer import Writer

if TYPE_CHECKING:
    from . import Retention

CHUNK = 200  # commands per pipeline during erasure: each is O(1), so Redis is never held for long
TIMER_KINDS = ("idle", "leave", "end", "camp")


class Leads:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys, retention: Retention,
                 records: Records) -> None:
        self.r, self.writer, self.k, self.retention, self.records = r, writer, keys, retention, records

    async def load(self, site: str, email: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.k.lead(site, email))
        return orjson.loads(raw) if raw else None

    def save(self, lead: dict[str, Any], vid: str, now: float) -> None:
        """Queue the lead, its place in the list, and the email -> visitor link. A lead without
        consent expires after retention.leads_unconsented_days; consent keeps it until erased."""
        site, email = lead["site"], lead["email"]
        key, evk = self.k.lead(site, email), self.k.email_visitors(site, email)
        ttl = 0 if lead["consent"]["given"] else int(self.retention.leads_unconsented)
        if ttl:
            self.writer.cmd("SET", key, orjson.dumps(lead), "EX", ttl)
            self.writer.cmd("ZADD", self.k.lead_expiry(site), now + ttl, email)
        else:
            self.writer.cmd("SET", key, orjson.dumps(lead))
            self.writer.cmd("ZREM", self.k.lead_expiry(site), email)
        self.writer.cmd("ZADD", self.k.leads(site), "NX", lead["first_seen"], email)
        self.writer.cmd("SADD", evk, vid)
        if ttl:  # outlives the lead by a day, so the sweep can still take the address off its visitors
            self.writer.cmd("EXPIRE", evk, ttl + 86400)
        else:
            self.writer.cmd("PERSIST", evk)
        self.writer.cmd("HSET", self.k.visitor(vid), "email", email)

    async def page(self, site: str, after: tuple[float, str] | None, limit: int) -> list[dict[str, Any]]:
        """Leads by first-seen time, oldest first, strictly after the (score, email) cursor."""
        lo = after[0] if after else "-inf"
        out: list[dict[str, Any]] = []
        offset = 0
        while len(out) < limit:
            rows = await self.r.zrangebyscore(self.k.leads(site), lo, "+inf", start=offset,
                                              num=limit + 50, withscores=True)
            if not rows:
                break
            offset += len(rows)
            emails = [e.decode() for e, score in rows
                      if not after or score > after[0] or (score == after[0] and e.decode() > after[1])]
            if emails:
                raws = await self.r.mget([self.k.lead(site, e) for e in emails])
                out += [orjson.loads(x) for x in raws if x]
        return out[:limit]

    async def visitors(self, site: str, email: str) -> set[str]:
        return {x.decode() for x in await self.r.smembers(self.k.email_visitors(site, email))}

    async def prune_expired(self, site: str, now: float, limit: int = 500) -> int:
        """Unconsented leads past their retention: drop them from the list, and their address from
        their visitors. (The lead key itself expired on its own.)"""
        zkey = self.k.lead_expiry(site)
        emails = [e.decode() for e in await self.r.zrangebyscore(zkey, "-inf", now, start=0, num=limit)]
        for email in emails:
            if await self.r.exists(self.k.lead(site, email)):  # consented or renewed meanwhile
                continue
            vids = await self.visitors(site, email)
            pipe = self.r.pipeline(transaction=True)
            pipe.zrem(self.k.leads(site), email)
            pipe.zrem(zkey, email)
            pipe.delete(self.k.email_visitors(site, email))
            for vid in vids:
                pipe.hdel(self.k.visitor(vid), "email")
            await pipe.execute()
        return len(emails)

    async def erase(self, site: str, email: str, vids: set[str], instances: list[str]) -> dict[str, int]:
        """GDPR erasure: the lead and every trace of its visitors (sessions, ids, records, timers,
        pending webhook deliveries), through indexes only."""
        lead = await self.load(site, email)
        vids = vids | await self.visitors(site, email) | set(lead["vids"] if lead else ())
        ops: list[tuple[str, tuple[Any, ...]]] = [
            ("delete", (self.k.lead(site, email), self.k.email_visitors(site, email))),
            ("zrem", (self.k.leads(site), email)), ("zrem", (self.k.lead_expiry(site), email))]
        sessions = records = deliveries = 0
        for vid in sorted(vids):
            sids = [x.decode() for x in await self.r.smembers(self.k.visitor_sessions(vid))]
            sessions += len(sids)
            for sid in sids:
                ops += [("delete", (self.k.session(sid),)), ("zrem", (self.k.live(site), sid)),
                        ("zrem", (self.k.timers, *(f"{t}|{sid}" for t in TIMER_KINDS)))]
                ops += [("srem", (self.k.instance_sessions(i), sid)) for i in instances]
            for kind, rsite, rid in await self.records.visitor_refs(vid):
                ops += [("hdel", (self.k.records(kind, rsite), rid)),
                        ("zrem", (self.k.records_by_time(kind, rsite), rid))]
                records += 1
            for did in await self.r.smembers(self.k.visitor_deliveries(vid)):
                ops += [("delete", (self.k.delivery(did.decode()),)), ("zrem", (self.k.delivery_queue, did))]
                deliveries += 1
            ops.append(("delete", (self.k.visitor(vid), self.k.visitor_sessions(vid), self.k.done(vid),
                                   self.k.visitor_records(vid), self.k.visitor_deliveries(vid))))
        for i in range(0, len(ops), CHUNK):
            pipe = self.r.pipeline(transaction=False)
            for name, args in ops[i:i + CHUNK]:
                getattr(pipe, name)(*args)
            await pipe.execute()
        return {"visitors": len(vids), "sessions": sessions, "records": records, "deliveries": deliveries,
                "lead": int(lead is not None)}
