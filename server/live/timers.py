"""Timers and sessions not connected here (the Live class's share of it): connected shoppers'
timers fire from memory; shared timers are leased from Redis in bounded steps; a session of an
instance that died has that instance's sockets closed the regular way.

A shared timer is "kind|owner" and is dispatched by its kind: a session's kinds (vocab.TIMER_KINDS:
leave, end, ...) go to that session; any other kind goes to the handler registered for it with
`on_timer` (follow-up steps), which gets the owner as it was scheduled and is never assumed to
be a session. A kind this instance does not handle is left alone (logged once): in a rolling deploy
it may be a newer instance's, and it is never fired at a session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..core.session import InstanceGone, Session, Timer
from ..core.vocab import TIMER_KINDS
from ..store import StoreError
from .common import log

if TYPE_CHECKING:
    from . import Live

TIMER_LEASE_S = 30.0  # a shared timer taken by an instance that dies comes due again after this
TimerHandler = Callable[[str, float], Awaitable[None]]  # (owner, now): queue its effects, then return


class Timers:
    def on_timer(self: Live, kind: str, handler: TimerHandler) -> None:
        """Shared timers of `kind` (not a session's) go to `handler`. The timer is removed in the
        batch after the handler returns; if it raises, the timer comes due again after its lease."""
        if kind in TIMER_KINDS:
            raise ValueError(f"timer kind {kind!r} belongs to sessions")
        self.timer_handlers[kind] = handler

    def _fire_local(self: Live, sid: str, kind: str) -> None:
        sess = self.sessions.get(sid)
        if sess is not None:  # a cause derived from the session, so a repeated alert has the same delivery id
            self._apply(sess, "", Timer(kind), self.clock(), cause=f"timer.{kind}.{sess.last_act}")

    async def fire_due(self: Live) -> int:
        """Lease due shared timers (at most timers_per_tick; each fires on exactly one instance),
        feed them to their sessions, and remove them in the batch with the effects."""
        now = self.clock()
        due, until = await self.store.timers.lease_due(now, self.cfg.timing.timers_per_tick, TIMER_LEASE_S)
        if not due:
            return 0
        await self.store.writer.commit()  # what this instance queued is visible before we read
        others = [(kind, owner) for kind, owner in due if kind not in TIMER_KINDS]
        due = [(kind, sid) for kind, sid in due if kind in TIMER_KINDS]
        stored = {d["sid"]: d for d in await self.store.sessions.load_many(
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
        for kind, owner in others:  # after the sessions' timers: a slow handler cannot age their snapshots
            handler = self.timer_handlers.get(kind)
            if handler is None:  # perhaps a newer instance's kind (rolling deploy): left for it, said once
                if kind not in self.unknown_timer_kinds:
                    self.unknown_timer_kinds.add(kind)
                    log.error("shared timers of kind %r have no handler on this instance; they are left for "
                              "instances that have one", kind[:40])
                continue
            try:
                await handler(owner, now)
            except Exception:  # its lease brings it back
                log.exception("shared timer %s|%s failed; it comes due again in %g s", kind, owner[:80],
                              TIMER_LEASE_S)
                continue
            self.store.timers.done(kind, owner, until)
        return len(due) + len(others)

    async def _timer_loop(self: Live) -> None:
        tick = self.cfg.timing.timer_tick_ms / 1000
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
            await asyncio.sleep(0 if n >= self.cfg.timing.timers_per_tick else tick)

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
        raw = await self.store.sessions.load(sid)
        return None if raw is None else self._revive(Session.from_dict(raw), now)

    def _revive(self: Live, sess: Session, now: float) -> Session:
        for inst in {c.split(".", 1)[0] for c in sess.sockets} - self.cluster.alive:
            self._apply(sess, "", InstanceGone(inst), now)
        return sess

    async def _take_over(self: Live, inst: str) -> None:
        sids = await self.store.instances.take_sessions(inst)
        log.warning("instance %s stopped answering: closing its %d session(s)", inst, len(sids))
        await self.store.writer.commit()
        for sid in sids:
            sess = await self._session(sid, self.clock())  # closes `inst`'s sockets: it is not alive
            if sess is not None and any(c.split(".", 1)[0] == inst for c in sess.sockets):
                self._apply(sess, "", InstanceGone(inst), self.clock())
