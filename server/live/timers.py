"""Timers and sessions not connected here (the Live class's share of it): connected shoppers'
timers fire from memory; shared leave/end timers are leased from Redis in bounded steps; a session
of an instance that died has that instance's sockets closed the regular way."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..core.session import InstanceGone, Session, Timer
from ..store import StoreError
from .common import log

if TYPE_CHECKING:
    from . import Live

TIMER_LEASE_S = 30.0  # a shared timer taken by an instance that dies comes due again after this


class Timers:
    def _fire_local(self: Live, sid: str, kind: str) -> None:
        sess = self.sessions.get(sid)
        if sess is not None:  # a cause derived from the session, so a repeated alert has the same delivery id
            self._apply(sess, "", Timer(kind), self.clock(), cause=f"timer.{kind}.{sess.last_act}")

    async def fire_due(self: Live) -> int:
        """Lease due shared timers (at most timers_per_tick; each fires on exactly one instance),
        feed them to their sessions, and remove them in the batch with the effects."""
        now = self.clock()
        due, until = await self.store.timers.lease_due(now, self.cfg["timing.timers_per_tick"], TIMER_LEASE_S)
        if not due:
            return 0
        await self.store.writer.commit()  # what this instance queued is visible before we read
        stored = {d["sid"]: d for d in await self.store.load_sessions(
            [sid for _, sid in due if sid not in self.sessions])}
        for n, (kind, sid) in enumerate(due):
            sess = self.sessions.get(sid)
            if sess is None and sid in stored:
                sess = self._revive(Session.from_dict(stored.pop(sid)), now)
            self.store.timers.done(kind, sid, until)
            if sess is not None:
                stamp = sess.away_since if kind in ("leave", "end") else sess.last_act
                self._apply(sess, "", Timer(kind), now, cause=f"timer.{kind}.{stamp}")
            if n % 50 == 49:
                await asyncio.sleep(0)  # sockets get their turn between chunks
        return len(due)

    async def _timer_loop(self: Live) -> None:
        tick = self.cfg["timing.timer_tick_ms"] / 1000
        while True:
            n = 0
            try:
                n = await self.fire_due()
                self.health.ok("timers")
            except (StoreError, OSError) as e:
                self.health.fail("timers", e)
            self.limits.prune(self.clock())
            self._forget_stored()
            cutoff = self.clock() - self.ttl  # an erased session's keys are long gone by then
            for sid in [sid for sid, at in self.erased.items() if at < cutoff]:
                del self.erased[sid]
            for eid in [eid for eid, at in self.seen_erasures.items() if at < cutoff]:
                del self.seen_erasures[eid]
            await asyncio.sleep(0 if n >= self.cfg["timing.timers_per_tick"] else tick)

    def _forget_stored(self: Live) -> None:
        stored = self.store.writer.stored_gen
        for key in [k for k, gen in self.unsure.items() if gen <= stored]:
            del self.unsure[key]

    # ------------------------------------------------------------ sessions not connected here

    async def _session(self: Live, sid: str, now: float) -> Session | None:
        """This instance's copy if the session is connected here, else the stored one, with the
        sockets of instances known to be gone closed the regular way (which starts the leave timer)."""
        sess = self.sessions.get(sid)
        if sess is not None:
            return sess
        raw = await self.store.load_session(sid)
        return None if raw is None else self._revive(Session.from_dict(raw), now)

    def _revive(self: Live, sess: Session, now: float) -> Session:
        for inst in {c.split(".", 1)[0] for c in sess.sockets} - self.cluster.alive:
            self._apply(sess, "", InstanceGone(inst), now)
        return sess

    async def _take_over(self: Live, inst: str) -> None:
        sids = await self.store.take_instance_sessions(inst)
        log.warning("instance %s stopped answering: closing its %d session(s)", inst, len(sids))
        await self.store.writer.commit()
        for sid in sids:
            sess = await self._session(sid, self.clock())  # closes `inst`'s sockets: it is not alive
            if sess is not None and any(c.split(".", 1)[0] == inst for c in sess.sockets):
                self._apply(sess, "", InstanceGone(inst), self.clock())
