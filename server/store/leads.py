"""Leads, the email -> visitors index, retention, and GDPR erasure.

A lead is a JSON snapshot of its latest capture (last writer wins on cart, temperature, source),
plus a consent key written once (`SET NX`): consent only ever goes from no to yes, so two
instances capturing one address at the same moment cannot lose it. A lead without consent is
deleted by the retention sweep `retention.leads_unconsented_days` after its last capture, unless
consent exists by then; every lead key also expires `retention.leads_days` after its last capture.

Erasure never scans: it follows indexes (the address's visitors, their sessions, records and
pending deliveries), reads big sets in pages (SSCAN/ZSCAN) and frees big keys with UNLINK, in small
pipelines with the event loop free in between, so other shoppers see no stall however large one
visitor's history or the site's lists are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis

from ..core.vocab import TIMER_KINDS
from .keys import Keys
from .queue import Queue, lane_of
from .records import Records
from .writer import Writer

if TYPE_CHECKING:
    from . import Retention

CHUNK = 200  # commands per pipeline during erasure: each is O(1), so Redis is never held for long
PAUSE_S = 0.002  # between pages: a huge erasure takes longer rather than crowding out everyone else


class Leads:
    def __init__(self, r: aioredis.Redis, writer: Writer, keys: Keys, retention: Retention,
                 records: Records, queues: dict[str, Queue]) -> None:
        self.r, self.writer, self.k, self.retention, self.records = r, writer, keys, retention, records
        self.queues = queues  # every job queue, for erasure (the Store's own dict: queues made later count)

    @staticmethod
    def _with_consent(raw: bytes | None, consent: bytes | None) -> dict[str, Any] | None:
        if not raw:
            return None
        lead: dict[str, Any] = orjson.loads(raw)
        if consent:  # the consent key is the truth; the snapshot may be an older instance's view
            lead["consent"] = {"given": True, **orjson.loads(consent)}
        return lead

    async def load(self, site: str, email: str) -> dict[str, Any] | None:
        raw, consent = await self.r.mget([self.k.lead(site, email), self.k.lead_consent(site, email)])
        return self._with_consent(raw, consent)

    def _expire(self, key: str, ttl: int) -> None:
        if ttl:
            self.writer.cmd("EXPIRE", key, ttl)
        else:
            self.writer.cmd("PERSIST", key)

    def save(self, lead: dict[str, Any], vid: str, now: float) -> None:
        """Queue the lead snapshot, its consent (once), its place in the list and the email -> visitor link."""
        site, email = lead["site"], lead["email"]
        keep = int(self.retention.leads)
        key, ckey, evk = self.k.lead(site, email), self.k.lead_consent(site, email), self.k.email_visitors(site, email)
        self.writer.cmd("SET", key, orjson.dumps(lead), *(("EX", keep) if keep else ()))
        consent = lead["consent"]
        if consent["given"]:
            self.writer.cmd("SET", ckey, orjson.dumps({"at": consent["at"], "text": consent["text"]}), "NX")
            self._expire(ckey, keep)
        # the sweep deletes it then, unless consent exists by then (never moves earlier: GT)
        self.writer.cmd("ZADD", self.k.lead_expiry(site), "GT", now + self.retention.leads_unconsented, email)
        self.writer.cmd("ZADD", self.k.leads(site), "NX", lead["first_seen"], email)
        self.writer.cmd("SADD", evk, vid)
        self._expire(evk, keep + 86400 if keep else 0)
        vkey = self.k.visitor(vid)
        self.writer.cmd("HSET", vkey, "email", email, "consent", int(bool(consent["given"])))  # of this address
        self.writer.cmd("EXPIRE", vkey, int(self.retention.visitors))

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
            picked = [(e.decode(), score) for e, score in rows
                      if not after or score > after[0] or (score == after[0] and e.decode() > after[1])]
            if picked:
                raws = await self.r.mget([self.k.lead(site, e) for e, _ in picked])
                consents = await self.r.mget([self.k.lead_consent(site, e) for e, _ in picked])
                for (_, score), raw, consent in zip(picked, raws, consents, strict=True):
                    lead = self._with_consent(raw, consent)
                    if lead is not None:
                        lead["first_seen"] = score  # the list's order is the truth (and the cursor's)
                        out.append(lead)
        return out[:limit]

    async def visitors(self, site: str, email: str) -> set[str]:
        return {x.decode() async for x in self._members(self.k.email_visitors(site, email))}

    async def prune_expired(self, site: str, now: float, limit: int = 500) -> int:
        """Leads whose time is up: without consent after leads_unconsented_days, and any lead whose
        key expired (leads_days) are deleted, with their address taken off their visitors. A lead
        that got consent meanwhile is looked at again when its leads_days are up."""
        zkey = self.k.lead_expiry(site)
        emails = [e.decode() for e in await self.r.zrangebyscore(zkey, "-inf", now, start=0, num=limit)]

        for email in emails:
            lead = await self.load(site, email)
            if lead is not None and lead["consent"]["given"]:
                if self.retention.leads:
                    await self.r.zadd(zkey, {email: float(lead.get("last_seen", now)) + self.retention.leads + 60})
                else:
                    await self.r.zrem(zkey, email)
                continue
            vids = await self.visitors(site, email)
            pipe = self.r.pipeline(transaction=True)
            pipe.zrem(self.k.leads(site), email)
            pipe.zrem(zkey, email)
            pipe.unlink(self.k.lead(site, email), self.k.lead_consent(site, email), self.k.email_visitors(site, email))
            for vid in vids:
                pipe.hdel(self.k.visitor(vid), "email", "consent")
            await pipe.execute()
        return len(emails)  # looked at (some kept for their consent): the sweep goes on while this is > 0

    # ------------------------------------------------------------ GDPR erasure

    async def _members(self, key: str, zset: bool = False) -> AsyncIterator[bytes]:
        """A set's (or sorted set's) members in pages, so a huge one never holds Redis or the loop."""
        scan = self.r.zscan_iter(key, count=CHUNK) if zset else self.r.sscan_iter(key, count=CHUNK)
        async for m in scan:
            yield m[0] if zset else m

    async def _run(self, ops: list[tuple[str, tuple[Any, ...]]]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for name, args in ops:
            getattr(pipe, name)(*args)
        await pipe.execute()
        await asyncio.sleep(PAUSE_S)  # other shoppers' writes (and Redis's fsyncs) get their turn between pages

    async def _drain(self, ops: list[tuple[str, tuple[Any, ...]]], force: bool = False) -> None:
        if ops and (force or len(ops) >= CHUNK):
            batch = ops[:]
            ops.clear()
            await self._run(batch)

    async def erase(self, site: str, email: str, vids: set[str], instances: list[str],
                    sids: set[str] | None = None) -> tuple[dict[str, int], set[str]]:
        """GDPR erasure: the lead and every trace of its visitors (sessions, ids, records, timers,
        pending jobs of every queue), through indexes only, page by page. `sids` are sessions found
        by an earlier pass (a late write of another instance may have brought one back after its
        index was gone). Returns the counts and every session id it deleted."""
        lead = await self.load(site, email)
        vids = vids | await self.visitors(site, email) | set(lead["vids"] if lead else ())
        ops: list[tuple[str, tuple[Any, ...]]] = []
        counts = {"sessions": 0, "records": 0, "deliveries": 0}
        seen: set[str] = set()

        async def session(sid: str) -> None:
            if sid in seen:
                return
            seen.add(sid)
            ops.extend([("unlink", (self.k.session(sid),)), ("zrem", (self.k.live(site), sid)),
                        ("zrem", (self.k.timers, *(f"{t}|{sid}" for t in TIMER_KINDS)))])
            ops.extend(("srem", (self.k.instance_sessions(i), sid)) for i in instances)
            await self._drain(ops)

        for sid in sorted(sids or ()):
            await session(sid)
        for vid in sorted(vids):
            for index, zset in ((self.k.visitor_sessions(vid), True), (self.k.legacy_visitor_sessions(vid), False)):
                async for raw in self._members(index, zset):
                    await session(raw.decode())
            for index, zset in ((self.k.visitor_records(vid), True), (self.k.legacy_visitor_records(vid), False)):
                async for ref in self._members(index, zset):
                    kind, rsite, rid = ref.decode().split("|", 2)
                    ops += [("hdel", (self.k.records(kind, rsite), rid)),
                            ("zrem", (self.k.records_by_time(kind, rsite), rid))]
                    counts["records"] += 1
                    await self._drain(ops)
            for q in list(self.queues.values()):  # jobs of every queue (webhooks, follow-ups), tombstones too
                async for raw in self._members(q.q.visitor + vid):
                    jid = raw.decode()
                    ops += [("unlink", (q.job_key(jid), q.job_key(jid) + ":claim")),
                            ("zrem", (q.lane_key(lane_of(jid)), jid))]
                    counts["deliveries"] += 1
                    await self._drain(ops)
            ops.append(("unlink", (self.k.visitor(vid), self.k.visitor_sessions(vid),
                                   self.k.legacy_visitor_sessions(vid), self.k.done(vid), self.k.legacy_done(vid),
                                   self.k.visitor_records(vid), self.k.legacy_visitor_records(vid),
                                   self.k.push_sub(vid),
                                   *(q.q.visitor + vid for q in list(self.queues.values())))))
            await self._drain(ops)
        # the address's own keys last: if Redis fails part-way, erasing again finds every visitor
        ops += [("zrem", (self.k.leads(site), email)), ("zrem", (self.k.lead_expiry(site), email)),
                ("unlink", (self.k.lead(site, email), self.k.lead_consent(site, email),
                            self.k.email_visitors(site, email)))]
        await self._drain(ops, force=True)
        counts["sessions"] = len(seen)
        return {"visitors": len(vids), **counts, "lead": int(lead is not None)}, seen
