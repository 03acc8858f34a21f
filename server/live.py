"""Live sessions on this instance: feed the core, carry out its actions, run the one timer loop.

While a session has a socket here, the in-memory `Session` is authoritative and every
change is written through to Redis (group-committed). When its last local socket closes
it is dropped from memory; timers for it then load it from Redis, whichever instance
pops them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from .config import Config
from .core import protocol as p
from .core.actions import Action, Cancel, End, Publish, Record, Schedule, Send
from .core.alerts import make_delivery, outbound
from .core.campaigns import CampaignError, load_campaign_file, parse_campaign
from .core.leads import capture_from, merge_lead
from .core.rules import Nudge, SiteRules, decide
from .core.session import (
    Connect,
    Disconnect,
    Event,
    InstanceGone,
    Session,
    Timer,
    Timing,
    feed,
    new_session,
)
from .metrics import Metrics
from .store import Store, StoreError

log = logging.getLogger("linger.live")

class Peer(Protocol):
    """A widget socket as this module sees it (ws.Conn)."""

    async def send(self, msg: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


NO_RULES = SiteRules()
RECORD_KINDS = ("purchase", "push", "popupev", "alert")


def mint_id() -> str:
    return secrets.token_urlsafe(16)


class Live:
    def __init__(self, cfg: Config, store: Store, metrics: Metrics, clock: Callable[[], float] = time.time):
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.timing = Timing(idle_after=cfg["timing.idle_after_ms"] / 1000,
                             leave_grace=cfg["timing.leave_grace"],
                             session_timeout=cfg["timing.session_timeout"])
        self.ttl = int(self.timing.session_timeout) + 3600
        self.instance = mint_id()[:10]
        self.sessions: dict[str, Session] = {}
        self.sockets: dict[str, dict[str, Peer]] = {}
        self.inflight: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.alive_instances: set[str] = {self.instance}
        self._conn_seq = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._collect: list[dict[str, Any]] | None = None
        self.rules: dict[str, SiteRules] = {}
        self.erased: set[str] = set()  # sessions erased (GDPR) while connected here
        self.heartbeat_s = cfg["server.heartbeat_s"]
        self.dead_after = 6 * self.heartbeat_s

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for site in self.cfg.sites.values():
            if site.seed_campaigns:
                seed = load_campaign_file(self.cfg.resolve(site.seed_campaigns))
                if await self.store.seed_campaigns(site.key, [c.to_dict() for c in seed]):
                    log.info("site %s: loaded %d seed campaigns from %s", site.key, len(seed), site.seed_campaigns)
            await self.load_rules(site.key)
        await self.heartbeat()  # also closes what an earlier, crashed run of an instance left open
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._timer_loop(), name="linger-timers"),
                       loop.create_task(self._heartbeat_loop(), name="linger-heartbeat"),
                       loop.create_task(self.store.listen(self.campaigns_changed, self.control), name="linger-pubsub")]

    async def load_rules(self, site: str) -> None:
        camps = []
        for raw in await self.store.load_campaigns(site):
            try:
                camps.append(parse_campaign(raw))
            except CampaignError as e:  # stored by an older version, or edited by hand
                log.error("site %s: skipping campaign %r: %s", site, raw.get("id"), e)
        conf = self.cfg.sites[site]
        nudge = None if conf.nudge == "off" else Nudge(
            title=conf.nudge_title, alt_title=conf.nudge_alt_title, sound=conf.nudge_sound,
            min_total=conf.nudge_min_total, target=conf.nudge_target)
        self.rules[site] = SiteRules(campaigns=tuple(camps), min_gap=conf.popup_gap,
                                     attribution_days=conf.attribution_days, nudge=nudge)

    def rules_for(self, site: str) -> SiteRules:
        return self.rules.get(site, NO_RULES)

    async def campaigns_changed(self, site: str) -> None:
        """Another instance (or this one) edited campaigns: reload and re-decide for live sessions."""
        if site not in self.cfg.sites:
            return
        await self.load_rules(site)
        now = self.clock()
        for sess in [s for s in self.sessions.values() if s.site == site]:
            self._apply(sess, "", Timer("camp"), now)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
        try:
            await self.store.forget_instance(self.instance)
        except (StoreError, OSError):
            pass

    def new_conn_id(self) -> str:
        self._conn_seq += 1
        return f"{self.instance}.{self._conn_seq}"

    # ------------------------------------------------------------ socket events

    async def hello(self, conn: str, site: str, h: p.Hello,
                    peer: Peer) -> tuple[Session, bool, list[dict[str, Any]]]:
        """Start or resume the session; returns it, whether it was resumed, and messages for the socket
        (arm and popup messages decided on connect, which the caller sends with or after `ready`)."""
        now = self.clock()
        visitor = await self.store.load_visitor(h.vid) if h.vid else None
        if visitor is not None and visitor.get("site") != site:
            visitor = None
        sess = await self._resumable(h.sid, site, visitor, now) if visitor else None
        resumed = sess is not None
        if visitor is None:
            visitor = {"vid": mint_id(), "site": site, "first_seen": now, "visits": 0}
        fields: dict[str, Any] = {"last_seen": now}
        if sess is None:
            visitor["visits"] = int(visitor.get("visits", 0)) + 1
            sess = new_session(mint_id(), visitor["vid"], site, visitor["visits"], now, visitor["first_seen"])
            sess.hist = visitor.get("hist") or {}
            self.store.index_session(site, sess.vid, sess.sid, now)
            self.metrics.sessions_started.inc()
            fields.update(site=site, first_seen=visitor["first_seen"], visits=visitor["visits"], last_sid=sess.sid)
        self.store.save_visitor(sess.vid, fields)
        if visitor.get("email") and not sess.email:
            sess.email, sess.has_email = visitor["email"], True  # identified by an earlier capture
        self.sessions[sess.sid] = sess
        if sess.sid not in self.sockets:
            self.store.track_conn(self.instance, sess.sid, True)
        self.sockets.setdefault(sess.sid, {})[conn] = peer
        self._collect = []
        try:
            self._apply(sess, conn, Connect(h), now)
            sess_msgs, self._collect = self._collect, None
        finally:
            self._collect = None
        return sess, resumed, sess_msgs

    async def _resumable(self, sid: str | None, site: str, visitor: dict[str, Any], now: float) -> Session | None:
        if not sid:
            return None
        sess = await self._session(sid, now)
        if sess is None or sess.vid != visitor["vid"] or sess.site != site:
            return None
        if not sess.sockets and sess.away_since is not None and now - sess.away_since >= self.timing.session_timeout:
            return None
        return sess

    async def message(self, conn: str, sess: Session, msg: p.Message) -> str | None:
        """Apply one parsed frame. Returns the id to acknowledge, if any, once it is durable."""
        mid = getattr(msg, "id", None)
        if mid is None:
            self._apply(sess, conn, msg, self.clock())
            return None
        key = (sess.vid, mid)
        running = self.inflight.get(key)
        if running is not None:  # the same id on another socket right now: its outcome is ours
            await asyncio.shield(running)
            return mid
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflight[key] = done  # registered before the first await, so a twin cannot slip past
        try:
            if await self.store.is_done(sess.vid, mid):
                self.metrics.duplicates.inc()
            else:
                now = self.clock()
                self._apply(sess, conn, msg, now)
                if isinstance(msg, p.Email):
                    await self._capture(sess, msg, now)
                self.store.mark_done(sess.vid, mid)
                await asyncio.shield(self.store.writer.commit(durable=True))
            done.set_result(None)
        except BaseException as e:
            done.set_exception(e)
            done.exception()  # retrieved: a twin may not be waiting
            raise
        finally:
            self.inflight.pop(key, None)
        return mid

    async def _capture(self, sess: Session, msg: p.Email, now: float) -> None:
        """An email typed or submitted: a lead if the site's consent mode allows it (decided in core/leads)."""
        cap, why = capture_from(sess.site, self.cfg.sites[sess.site].capture, sess, msg, now)
        if cap is None:
            self.metrics.count(self.metrics.emails_refused, why)
            return
        lead = merge_lead(await self.store.load_lead(sess.site, cap["email"]), cap)
        self.store.save_lead(lead)
        sess.has_email, sess.email = True, cap["email"]
        self.store.save_session(sess.sid, sess, self.ttl)
        self._perform(sess, Publish("lead.captured", {"email": lead["email"], "source": msg.source}))

    async def erase(self, site: str, email: str) -> dict[str, int]:
        """GDPR: erase the lead and every trace of its visitors, here and on every instance."""
        lead = await self.store.load_lead(site, email)
        vids = set(lead["vids"]) if lead else set()
        await self.control({"erase": sorted(vids)})  # this instance stops writing them at once
        await self.store.writer.commit()  # what was already queued lands before the delete
        result = await self.store.erase_lead(site, email, RECORD_KINDS)  # and tells the other instances
        await asyncio.sleep(0.2)  # a write another instance made before it heard: delete once more
        await self.store.erase_lead(site, email, RECORD_KINDS, vids=vids)
        return result

    async def control(self, msg: dict[str, Any]) -> None:
        vids = set(msg.get("erase") or ())
        for sess in [s for s in self.sessions.values() if s.vid in vids]:
            self.erased.add(sess.sid)  # nothing about it is written again, not even its disconnect
            self.sessions.pop(sess.sid, None)
            for peer in list(self.sockets.pop(sess.sid, {}).values()):
                await peer.close(1000, "erased")

    def bye(self, conn: str, sess: Session) -> None:
        self._apply(sess, conn, Disconnect(), self.clock())
        local = self.sockets.get(sess.sid)
        if local is not None:
            local.pop(conn, None)
            if not local:
                del self.sockets[sess.sid]
                self.sessions.pop(sess.sid, None)
                self.store.track_conn(self.instance, sess.sid, False)

    # ------------------------------------------------------------ core glue

    def _apply(self, sess: Session, conn: str, ev: Event, now: float) -> list[Action]:
        if sess.sid in self.erased:
            return []
        rev = sess.hist_rev
        actions = feed(sess, conn, ev, now, self.timing)
        actions += decide(self.rules_for(sess.site), sess, ev, now, conn)
        self.store.save_session(sess.sid, sess, self.ttl)
        if sess.hist_rev != rev:  # the visitor's campaign history changed: it outlives the session
            self.store.save_visitor(sess.vid, {"hist": sess.hist})
        for a in actions:
            self._perform(sess, a)
        return actions

    def _outbound(self, sess: Session, event: str, data: dict[str, Any]) -> None:
        """Alerts and webhook deliveries for a notable event, queued in the same batch as the event."""
        conf = self.cfg.sites[sess.site]
        now = self.clock()
        for name, payload in outbound(event, data, sess, conf.alert_cart_total, now):
            if name == "alert.raised":
                self.metrics.count(self.metrics.events, "alert.raised")
                self.store.record("alert", sess.site, payload)
            for hook in conf.webhooks:
                if name in hook.events:
                    self.store.enqueue_delivery(make_delivery(mint_id(), sess.site, hook.url, name, payload, now), now)

    def _perform(self, sess: Session, a: Action) -> None:
        match a:
            case Schedule(kind=kind, at=at):
                self.store.schedule(kind, sess.sid, at)
            case Cancel(kind=kind):
                self.store.cancel(kind, sess.sid)
            case Record(kind="stat", data=data):
                self.store.count_stat(sess.site, data["cid"], data["var"], data["ev"], data.get("revenue"))
            case Record(kind=kind, data=data):
                self.store.record(kind, sess.site, data)
            case Publish(event=event, data=data):
                self.metrics.count(self.metrics.events, event)
                self.store.publish(sess.site, {"event": event, "sid": sess.sid, "vid": sess.vid, **data})
                self._outbound(sess, event, data)
            case Send(msg=msg, to=to):
                self.metrics.count(self.metrics.decisions, msg["t"])
                if self._collect is not None:
                    self._collect.append(msg)
                    return
                peers = self.sockets.get(sess.sid, {})
                for cid, peer in list(peers.items()):
                    if not to or cid == to:
                        asyncio.get_running_loop().create_task(peer.send(msg))
            case End():
                self.store.end_session(sess.site, sess.sid)

    # ------------------------------------------------------------ timers and heartbeat

    async def fire_due(self) -> int:
        """Pop due timers (atomically, across instances) and feed them to their sessions."""
        now = self.clock()
        due = await self.store.pop_due(now)
        if not due:
            return 0
        await self.store.writer.commit()  # what this instance queued is visible before we read
        for kind, sid in due:
            sess = await self._session(sid, now)
            if sess is not None:
                self._apply(sess, "", Timer(kind), now)
        return len(due)

    async def _session(self, sid: str, now: float) -> Session | None:
        """This instance's copy if the session is connected here, else the stored one, with the
        sockets of instances known to be gone closed the regular way (which starts the leave timer)."""
        sess = self.sessions.get(sid)
        if sess is not None:
            return sess
        raw = await self.store.load_session(sid)
        if raw is None:
            return None
        sess = Session.from_dict(raw)
        for inst in {c.split(".", 1)[0] for c in sess.sockets} - self.alive_instances:
            self._apply(sess, "", InstanceGone(inst), now)
        return sess

    async def _timer_loop(self) -> None:
        tick = self.cfg["timing.timer_tick_ms"] / 1000
        while True:
            try:
                await self.fire_due()
            except (StoreError, OSError) as e:
                log.error("timer loop: %s", e)
            await asyncio.sleep(tick)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self.heartbeat()
            except (StoreError, OSError) as e:
                log.error("heartbeat: %s", e)

    async def heartbeat(self) -> None:
        """Stay listed as alive; close the sockets of instances that died without closing them."""
        self.alive_instances, dead = await self.store.heartbeat(self.instance, self.clock(), self.dead_after)
        for inst in dead:
            sids = await self.store.take_instance_sessions(inst)
            log.warning("instance %s stopped answering: closing its %d session(s)", inst, len(sids))
            await self.store.writer.commit()
            for sid in sids:
                sess = await self._session(sid, self.clock())  # closes `inst`'s sockets: it is not alive
                if sess is not None and any(c.split(".", 1)[0] == inst for c in sess.sockets):
                    self._apply(sess, "", InstanceGone(inst), self.clock())

    def counts_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.sessions.values():
            counts[s.state] = counts.get(s.state, 0) + 1
        return counts
