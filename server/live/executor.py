"""Carrying out the core's actions for a session (the Live class's share of it): one small branch
per action type, nothing decided here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.actions import (
    Action,
    Alert,
    Cancel,
    Capture,
    Count,
    Deliver,
    End,
    Engage,
    FollowUp,
    FollowUpCount,
    Publish,
    Reached,
    Record,
    Schedule,
    Send,
    StopFollowUps,
    Subscribe,
    Tally,
)
from ..core.session import Event, Session
from ..core.step import step
from ..core.wire import Outbound
from .common import log
from .local_timers import LOCAL_KINDS

if TYPE_CHECKING:
    from . import Live


class Executor:
    def _apply(self: Live, sess: Session, conn: str, ev: Event, now: float, held: list[Outbound] | None = None,
               cause: str = "") -> list[Action]:
        if sess.sid in self.erased:
            return []
        rev, engaged = sess.hist_rev, sess.engaged
        actions = step(sess, conn, ev, now, self.timing, self.rules_for(sess.site), cause)
        self.store.sessions.save(sess.sid, sess, self.ttl)
        if sess.hist_rev != rev and engaged == sess.engaged:  # the visitor's campaign history outlives the session
            self.store.sessions.save_visitor(sess.vid, {"hist": sess.hist}, self.visitor_ttl(sess.engaged))
        for a in actions:
            self._perform(sess, a, held, cause, now)
        return actions

    def _perform(self: Live, sess: Session, a: Action, held: list[Outbound] | None, cause: str,
                 now: float) -> None:
        match a:
            case Schedule(kind=kind, at=at) if kind in LOCAL_KINDS:
                if sess.sid in self.sessions:
                    self.local.schedule(sess.sid, kind, at)
            case Schedule(kind=kind, at=at):
                self.store.timers.schedule(kind, sess.sid, at)
            case Cancel(kind=kind) if kind in LOCAL_KINDS:
                self.local.cancel(sess.sid, kind)
            case Cancel(kind=kind):
                self.store.timers.cancel(kind, sess.sid)
            case Count(cid=cid, var=var, counts=counts):
                self.store.campaigns.count(sess.site, cid, var, counts, now)
            case Record(kind=kind, data=data):
                rid = f"{sess.vid}.{cause}" if cause else None  # a retried write lands once
                self.store.records.add(kind, sess.site, sess.vid, data, now, rid=rid)
            case Publish(event=event, data=data):
                self.metrics.count(self.metrics.events, event)
                self.store.publish(sess.site, {"event": event, "sid": sess.sid, "vid": sess.vid, **data})
            case Capture(lead=lead):
                self.store.leads.save(lead, sess.vid, now)
            case Alert(payload=payload, rid=rid):
                self.store.records.add("alert", sess.site, sess.vid, payload, now, rid=rid)
            case Deliver(delivery=delivery):
                self.store.webhooks.enqueue(delivery, now)
            case Tally(metric=metric, label=label):
                self.metrics.count(getattr(self.metrics, metric), label)
            case Send(msg=msg, to=to):
                self.metrics.count(self.metrics.decisions, msg.t)
                if held is not None:
                    held.append(msg)
                    return
                for cid, peer in list(self.sockets.get(sess.sid, {}).items()):
                    if not to or cid == to:
                        peer.push(msg)
            case End():
                self.store.sessions.end(sess.site, sess.sid)
            case Engage():
                self.store.sessions.save_visitor(sess.vid, {"engaged": True, "hist": sess.hist}, self.visitor_ttl(True))
            case FollowUp(jobs=jobs):
                for job in jobs:
                    self.store.queue("followups").enqueue(job, job["at"])
                    self.store.followups.schedule_counted(sess.site, job["channel"], job["step"], job["id"])
                self.store.sessions.save_visitor(sess.vid, {"fu": 1}, self.visitor_ttl(sess.engaged))
            case StopFollowUps(why=why):
                self.store.sessions.save_visitor(sess.vid, {"fu": 0}, self.visitor_ttl(sess.engaged))
                self.later(self._stop_followups(sess.vid, why, now))
            case FollowUpCount(step=name, counts=counts):  # a purchase's effect: inside its once-only guard
                self.store.followups.attribute(sess.site, sess.vid, name, counts)
            case Reached(kind=kind):
                self.store.funnel.reached(sess.site, kind, sess.sid, now)
            case Subscribe(sub=sub) if sub is None:
                self.store.followups.unsubscribe_push(sess.vid)
            case Subscribe(sub=sub):
                self.store.followups.subscribe(sess.vid, sub, self.vapid_public, now, self.visitor_ttl(True))

    async def _stop_followups(self: Live, vid: str, why: str, now: float) -> None:
        """Cancel the visitor's pending steps (the worker checks presence again before sending, so
        a cancellation that fails here still sends nothing)."""
        q = self.store.queue("followups")
        try:
            await self.store.writer.commit()  # the plan this cancels may still be in the writer's batch
            n = await self.store.followups.cancel(q, [j["id"] for j in await q.visitor_jobs(vid)], why, now)
        except Exception as e:  # the worker's own check covers it; nothing to undo
            log.warning("cancelling follow-ups failed (%s); the worker's check before sending covers it", e)
            return
        if n:
            log.info("follow-ups cancelled for a visitor (%d step(s)): %s", n, why)
