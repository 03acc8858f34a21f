"""GDPR erasure across instances (the Live class's share of it).

1. The erasing instance drops the visitors' sessions (closing their sockets) and flushes its writes.
2. It announces the erasure, first, so that a Redis refusing writes fails it before anything is
   deleted. Every other live instance drops the sessions, flushes what it had queued for them, and
   confirms; announcements are kept an hour (as salted hashes) and replayed on heartbeats.
3. Everything is deleted through the indexes; once all have confirmed (or after a wait), once more,
   including sessions found the first time, which another instance's late write may have brought back.
4. An instance that did not confirm gets further passes later.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..core.session import Disconnect, Session
from ..store import StoreError
from .common import log, mint_id, vid_hash

if TYPE_CHECKING:
    from . import Live

ERASE_CONFIRM_BEATS = 2  # how long an erasure waits for the other instances to confirm, in heartbeats
ERASE_AGAIN_S = (30.0, 270.0)  # further passes when some instance did not confirm


class Erasure:
    async def erase(self: Live, site: str, email: str) -> dict[str, int]:
        """Erase the lead and every trace of its visitors, here and on every instance.

        1. This instance drops the visitors' sessions (closing their sockets) and flushes its writes.
        2. Everything is deleted through the indexes.
        3. Every other live instance is told (pub/sub, and a list each replays on its heartbeat); each
           drops the sessions, flushes what it had queued for them, and confirms.
        4. Once all have confirmed (or after a wait), everything is deleted once more, including the
           sessions found in step 2, which a write of another instance may have brought back.
        An instance that did not confirm (partitioned, dying) gets further passes later. If Redis
        fails part-way, the error reaches the caller, the sessions stopped here go on, and a retry
        finds everything again (the address's indexes are deleted last)."""
        now = self.clock()
        lead = await self.store.leads.load(site, email)
        vids = await self.store.leads.visitors(site, email) | set(lead["vids"] if lead else ())
        hashed = {vid_hash(v) for v in vids}  # what other instances are told: no visitor id is kept
        stopped = await self._drop(hashed)
        others: set[str] = set()
        confirmed: set[str] = set()
        try:
            await self.store.writer.commit()
            instances = await self.store.instances.ids()
            if vids:  # first, so that a Redis refusing writes fails the erasure before anything is deleted
                eid = mint_id()
                self.seen_erasures[eid] = now
                others = self.cluster.alive - {self.instance}
                await self.store.announce_erasure(eid, sorted(hashed), now)
            result, sids = await self.store.leads.erase(site, email, vids, instances)
            if vids:
                confirmed = await self._confirmations(eid, others)
                await self.store.leads.erase(site, email, vids, instances, sids)
        except BaseException:
            self._resume(stopped)
            raise
        missing = others - confirmed
        if vids and missing:
            log.warning("erasure: %d instance(s) did not confirm; erasing again later", len(missing))
            self.later(self._erase_later(site, email, vids, sids))
        result["unconfirmed_instances"] = len(missing)
        return result

    async def _confirmations(self: Live, eid: str, others: set[str]) -> set[str]:
        deadline = self.clock() + ERASE_CONFIRM_BEATS * self.cluster.heartbeat_s + 1
        acks: set[str] = set()
        while others - acks and self.clock() < deadline:
            await asyncio.sleep(0.05)
            acks = await self.store.erasure_acks(eid)
        return acks

    async def _erase_later(self: Live, site: str, email: str, vids: set[str], sids: set[str]) -> None:
        for wait in ERASE_AGAIN_S:
            await asyncio.sleep(wait)
            try:
                await self.store.leads.erase(site, email, vids, await self.store.instances.ids(), sids)
            except (StoreError, OSError) as e:
                log.error("erasure, later pass: %s", e)

    async def _drop(self: Live, hashed: set[str]) -> list[tuple[Session, list[str]]]:
        """Stop the sessions of these visitors (given as vid_hash) here: nothing about them is written
        again (not even their disconnect), and their sockets are closed."""
        stopped = []
        for sess in [s for s in self.sessions.values() if vid_hash(s.vid) in hashed]:
            self.erased[sess.sid] = self.clock()
            self.sessions.pop(sess.sid, None)
            self.local.drop(sess.sid)
            peers = self.sockets.pop(sess.sid, {})
            stopped.append((sess, list(peers)))
            for peer in list(peers.values()):
                await peer.close(1000, "erased")
        return stopped

    def _resume(self: Live, stopped: list[tuple[Session, list[str]]]) -> None:
        """An erasure that failed: the stopped sessions go on, their closed sockets disconnected the
        regular way (so they leave and end as usual)."""
        now = self.clock()
        for sess, conns in stopped:
            self.erased.pop(sess.sid, None)
            for conn in conns:
                self._apply(sess, conn, Disconnect(), now)
            if not sess.sockets:
                self.store.instances.track_conn(self.instance, sess.sid, False)

    async def control(self: Live, msg: dict[str, Any]) -> None:
        """An erasure announced by another instance (or replayed from the list): drop the visitors
        (named by vid_hash), flush what was queued for them, and confirm. Anything else is ignored."""
        if not isinstance(msg, dict) or not isinstance(msg.get("erase") or [], list):
            return
        eid = msg.get("id")
        if eid is not None and not isinstance(eid, str):
            return
        if eid is not None and eid in self.seen_erasures:
            return
        if eid is not None:
            self.seen_erasures[eid] = self.clock()
        await self._drop({h for h in msg.get("erase") or () if isinstance(h, str)})
        if eid is not None:
            await self.store.writer.commit()
            await self.store.ack_erasure(eid, self.instance)

    async def replay_erasures(self: Live) -> None:
        """Erasures this instance may have missed (pub/sub is not reliable across reconnects)."""
        since = self._erasures_checked - 60  # a margin for clocks that disagree a little
        for eid, vids, at in await self.store.erasures_since(since):
            await self.control({"erase": vids, "id": eid})
            self._erasures_checked = max(self._erasures_checked, at)
