"""Live sessions on this instance: feed the core, carry out its actions, fire timers.

While a session has a socket here, the in-memory `Session` is authoritative and every change is
written through to Redis (group-committed). When its last local socket closes it is dropped from
memory; its shared timers then load it from Redis, whichever instance leases them.

A client message with an id is applied once: the same id on two sockets at once waits for the
first; an id applied here whose write is not yet confirmed is never applied again (a resend waits
for the write instead); and the write itself claims the id and applies its effects in one step
(store.applying), so a retried batch or another instance cannot apply it twice either.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..config import Config
from ..core import protocol as p
from ..core.actions import Action, Cancel, Count, End, Engage, Publish, Record, Schedule, Send
from ..core.admit import SitePolicy
from ..core.alerts import delivery_id, make_delivery, outbound
from ..core.campaigns import CampaignError, parse_campaign
from ..core.leads import capture_from, identify, merge_lead, normalize_email
from ..core.ratelimit import PerAddress
from ..core.rules import Nudge, SiteRules
from ..core.session import Connect, Disconnect, Event, InstanceGone, Session, Timer, Timing, new_session
from ..core.step import refusal, step
from ..health import Health
from ..metrics import Metrics
from ..store import Store, StoreError, WriteFailed
from .cluster import Cluster
from .local_timers import LOCAL_KINDS, LocalTimers

log = logging.getLogger("linger.live")

NO_RULES = SiteRules()
TIMER_LEASE_S = 30.0  # a shared timer taken by an instance that dies comes due again after this
MAX_BACKLOG = 100_000  # queued writes beyond which id messages are refused (`unavailable`) before applying
ERASE_CONFIRM_BEATS = 2  # how long an erasure waits for the other instances to confirm, in heartbeats
ERASE_AGAIN_S = (30.0, 270.0)  # further passes when some instance did not confirm


class Peer(Protocol):
    """A widget socket as this module sees it (ws.Conn)."""

    def push(self, msg: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str = "") -> None: ...


class Refused(Exception):
    """A client message or hello this server will not apply; `code` goes back in the error."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def mint_id() -> str:
    return secrets.token_urlsafe(16)


def vid_hash(vid: str) -> str:
    """How an erasure names a visitor to the other instances, so the announcement, kept an hour for
    instances that missed it, holds no visitor id."""
    return hashlib.sha256(f"linger-erase:{vid}".encode()).hexdigest()[:32]


def load_rules(cfg: Config, site: str, raw_campaigns: list[dict[str, Any]]) -> SiteRules:
    camps = []
    for raw in raw_campaigns:
        try:
            camps.append(parse_campaign(raw))
        except CampaignError as e:  # stored by an older version, or edited by hand
            log.error("site %s: skipping campaign %r: %s", site, raw.get("id"), e)
    conf = cfg.sites[site]
    nudge = None if conf.nudge == "off" else Nudge(
        title=conf.nudge_title, alt_title=conf.nudge_alt_title, sound=conf.nudge_sound,
        min_total=conf.nudge_min_total, target=conf.nudge_target)
    return SiteRules(campaigns=tuple(camps), min_gap=conf.popup_gap, attribution_days=conf.attribution_days,
                     nudge=nudge)


class Live:
    def __init__(self, cfg: Config, store: Store, metrics: Metrics, clock: Callable[[], float] = time.time,
                 health: Health | None = None) -> None:
        self.cfg, self.store, self.metrics, self.clock = cfg, store, metrics, clock
        self.health = health or store.health
        self.timing = Timing(idle_after=cfg["timing.idle_after_ms"] / 1000, leave_grace=cfg["timing.leave_grace"],
                             session_timeout=cfg["timing.session_timeout"])
        self.ttl = int(self.timing.session_timeout + 3600)  # stored sessions outlive their end by an hour
        self.instance = secrets.token_hex(4)
        self.sessions: dict[str, Session] = {}  # sessions with a socket on this instance
        self.sockets: dict[str, dict[str, Peer]] = {}  # sid -> conn id -> socket
        self.inflight: dict[tuple[str, str], asyncio.Future[None]] = {}  # (vid, id) being applied now
        self.unsure: dict[tuple[str, str], int] = {}  # (vid, id) applied here -> writer generation storing it
        self.erased: dict[str, float] = {}  # sessions erased (GDPR) while connected here -> when
        self.seen_erasures: dict[str, float] = {}  # erasure ids handled here -> when
        self._erasures_checked = clock()
        self._later: set[asyncio.Task[None]] = set()
        self.rules: dict[str, SiteRules] = {}
        self.policies = {key: SitePolicy(origins=s.origins, currency=s.currency, image_hosts=s.image_hosts,
                                         keep_params=s.keep_query_params, push_hosts=cfg["push.allowed_hosts"])
                         for key, s in cfg.sites.items()}
        self.limits = PerAddress(cfg["limits.sockets_per_ip"], {
            "visitor": PerAddress.per_minute(cfg["limits.new_visitors_per_ip_per_min"]),
            "session": PerAddress.per_minute(cfg["limits.new_sessions_per_ip_per_min"]),
            "lead": PerAddress.per_hour(cfg["limits.leads_per_ip_per_hour"]),
            "message": PerAddress.per_minute(cfg["limits.messages_per_ip_per_min"])})
        self.local = LocalTimers(self._fire_local, clock)
        self.cluster = Cluster(store, self.instance, cfg["server.heartbeat_s"], clock, self.health, self._take_over,
                               self.replay_erasures)
        self._conn_seq = 0
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ lifecycle

    async def start(self, seeds: dict[str, list[dict[str, Any]]] | None = None) -> None:
        for site in self.cfg.sites:
            if seeds and seeds.get(site) and await self.store.campaigns.seed(site, seeds[site]):
                log.info("site %s: loaded %d seed campaigns", site, len(seeds[site]))
            await self.load_rules(site)
        await self.cluster.beat()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._timer_loop(), name="linger-timers"),
                       loop.create_task(self.cluster.run(), name="linger-heartbeat"),
                       loop.create_task(self.store.listen(self.campaigns_changed, self.control), name="linger-pubsub")]

    async def load_rules(self, site: str) -> None:
        self.rules[site] = load_rules(self.cfg, site, await self.store.campaigns.load_all(site))

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
        self.local.close()
        for t in [*self._tasks, *self._later]:
            t.cancel()
        for t in [*self._tasks, *self._later]:
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

    def visitor_ttl(self, engaged: bool) -> int:
        return int(self.store.retention.visitors) if engaged else self.ttl

    # ------------------------------------------------------------ socket events

    async def hello(self, conn: str, site: str, h: p.Hello, peer: Peer,
                    ip: str = "") -> tuple[Session, bool, list[dict[str, Any]]]:
        """Start or resume the session; returns it, whether it was resumed, and messages for the socket
        (arm and popup messages decided on connect, which the caller sends after `ready`)."""
        now = self.clock()
        visitor = await self.store.load_visitor(h.vid) if h.vid else None
        if visitor is not None and visitor.get("site") != site:
            visitor = None
        resumable = visitor is not None and h.sid not in self.erased  # an erased (or half-erased) visit is over
        sess = await self._resumable(h.sid, site, visitor, now) if resumable and visitor else None
        resumed = sess is not None
        if visitor is None:
            if not self.limits.allow("visitor", ip, now):
                self.metrics.count(self.metrics.rejected, "new_visitors_per_ip")
                raise Refused("rate_limited", "too many new visitors from this address; try again in a minute")
            visitor = {"vid": mint_id(), "site": site, "first_seen": now, "visits": 0, "engaged": False}
        if sess is None and not self.limits.allow("session", ip, now):
            self.metrics.count(self.metrics.rejected, "new_sessions_per_ip")
            raise Refused("rate_limited", "too many new sessions from this address; try again in a minute")
        fields: dict[str, Any] = {"last_seen": now}
        if sess is None:
            visitor["visits"] = int(visitor.get("visits", 0)) + 1
            sess = new_session(mint_id(), visitor["vid"], site, visitor["visits"], now, visitor["first_seen"])
            sess.hist = visitor.get("hist") or {}
            sess.engaged = bool(visitor.get("engaged"))
            self.store.index_session(site, sess.vid, sess.sid, now, self.visitor_ttl(sess.engaged))
            self.metrics.sessions_started.inc()
            fields.update(site=site, first_seen=visitor["first_seen"], visits=visitor["visits"], last_sid=sess.sid)
        self.store.save_visitor(sess.vid, fields, self.visitor_ttl(sess.engaged))
        if visitor.get("email") and not sess.email:  # identified by an earlier capture
            sess.email, sess.has_email = visitor["email"], True
            sess.email_consent = visitor.get("consent") == "1"
        self.sessions[sess.sid] = sess
        if sess.sid not in self.sockets:
            self.store.track_conn(self.instance, sess.sid, True)
        self.sockets.setdefault(sess.sid, {})[conn] = peer
        held: list[dict[str, Any]] = []
        self._apply(sess, conn, Connect(h), now, held=held)
        return sess, resumed, held

    async def _resumable(self, sid: str | None, site: str, visitor: dict[str, Any], now: float) -> Session | None:
        if not sid:
            return None
        sess = await self._session(sid, now)
        if sess is None or sess.vid != visitor["vid"] or sess.site != site:
            return None
        if not sess.sockets and sess.away_since is not None and now - sess.away_since >= self.timing.session_timeout:
            return None
        return sess

    async def message(self, conn: str, sess: Session, msg: p.Message, ip: str = "") -> str | None:
        """Apply one admitted frame. Returns the id to acknowledge, if any, once it is durable.
        Raises Refused for a message this session cannot have sent, StoreError when it could not be
        stored (the client keeps it and resends)."""
        mid = getattr(msg, "id", None)
        if mid is None:
            self._apply(sess, conn, msg, self.clock())
            return None
        if not self.limits.allow("message", ip, self.clock()):
            raise Refused("rate_limited", "too many stored messages from this address; send it again later")
        key = (sess.vid, mid)
        running = self.inflight.get(key)
        if running is not None:  # the same id on another socket right now: its outcome is ours
            await asyncio.shield(running)
            return mid
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflight[key] = done  # registered before the first await, so a twin cannot slip past
        try:
            await self._apply_once(conn, sess, msg, key, ip)
            done.set_result(None)
        except BaseException as e:
            done.set_exception(e)
            done.exception()  # retrieved: a twin may not be waiting
            raise
        finally:
            self.inflight.pop(key, None)
        return mid

    async def _apply_once(self, conn: str, sess: Session, msg: Any, key: tuple[str, str], ip: str) -> None:
        writer = self.store.writer
        gen = self.unsure.get(key)
        if gen is not None and gen > writer.stored_gen:
            await asyncio.shield(writer.commit(durable=True))  # applied here already: wait for its write
            return
        self.unsure.pop(key, None)
        if sess.sid in self.erased:  # erased while this message was on its way: store nothing, ack nothing
            raise WriteFailed("this session was erased")
        if writer.backlog > MAX_BACKLOG:
            raise WriteFailed(f"{writer.backlog} writes waiting for Redis")
        if await self.store.is_done(*key):
            self.metrics.duplicates.inc()
            await asyncio.shield(writer.commit(durable=True))  # what we read is fsynced before the ack
            return
        now = self.clock()
        why = refusal(self.rules_for(sess.site), sess, msg, now)
        if why is not None:
            raise Refused("bad_message", why)
        lead = None
        if isinstance(msg, p.Email) and (email := normalize_email(msg.email)):
            lead = await self.store.leads.load(sess.site, email)
        if sess.sid in self.erased:  # erased during the awaits above
            raise WriteFailed("this session was erased")
        with self.store.applying(*key, now):  # nothing below awaits until the effects are queued
            self._apply(sess, conn, msg, now, cause=key[1])
            if isinstance(msg, p.Email):
                self._capture(sess, msg, now, lead, ip)
        self.unsure[key] = writer.next_gen
        await asyncio.shield(writer.commit(durable=True))
        self.unsure.pop(key, None)

    def _capture(self, sess: Session, msg: p.Email, now: float, existing: dict[str, Any] | None, ip: str) -> None:
        """An email typed or submitted: a lead if the site's consent mode allows it (decided in core/leads)
        and this address has not created too many lately."""
        cap, why = capture_from(sess.site, self.cfg.sites[sess.site].capture, sess, msg, now)
        if cap is not None and not self.limits.allow("lead", ip, now):
            cap, why = None, "too many leads from this address"
        if cap is None:
            self.metrics.count(self.metrics.emails_refused, why)
            return
        lead = merge_lead(existing, cap)
        self.store.leads.save(lead, sess.vid, now)
        identify(sess, lead, msg.source)
        self.store.save_session(sess.sid, sess, self.ttl)
        self._perform(sess, Publish("lead.captured", {"email": lead["email"], "source": msg.source,
                                                      "consent": {"given": lead["consent"]["given"]}}),
                      None, msg.id, now)

    def bye(self, conn: str, sess: Session) -> None:
        self._apply(sess, conn, Disconnect(), self.clock())
        local = self.sockets.get(sess.sid)
        if local is not None:
            local.pop(conn, None)
            if not local:
                del self.sockets[sess.sid]
                self.sessions.pop(sess.sid, None)
                self.local.drop(sess.sid)
                self.store.track_conn(self.instance, sess.sid, False)

    # ------------------------------------------------------------ GDPR erasure

    async def erase(self, site: str, email: str) -> dict[str, int]:
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
            instances = await self.store.instance_ids()
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
            task = asyncio.get_running_loop().create_task(self._erase_later(site, email, vids, sids))
            self._later.add(task)
            task.add_done_callback(self._later.discard)
        result["unconfirmed_instances"] = len(missing)
        return result

    async def _confirmations(self, eid: str, others: set[str]) -> set[str]:
        deadline = self.clock() + ERASE_CONFIRM_BEATS * self.cluster.heartbeat_s + 1
        acks: set[str] = set()
        while others - acks and self.clock() < deadline:
            await asyncio.sleep(0.05)
            acks = await self.store.erasure_acks(eid)
        return acks

    async def _erase_later(self, site: str, email: str, vids: set[str], sids: set[str]) -> None:
        for wait in ERASE_AGAIN_S:
            await asyncio.sleep(wait)
            try:
                await self.store.leads.erase(site, email, vids, await self.store.instance_ids(), sids)
            except (StoreError, OSError) as e:
                log.error("erasure, later pass: %s", e)

    async def _drop(self, hashed: set[str]) -> list[tuple[Session, list[str]]]:
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

    def _resume(self, stopped: list[tuple[Session, list[str]]]) -> None:
        """An erasure that failed: the stopped sessions go on, their closed sockets disconnected the
        regular way (so they leave and end as usual)."""
        now = self.clock()
        for sess, conns in stopped:
            self.erased.pop(sess.sid, None)
            for conn in conns:
                self._apply(sess, conn, Disconnect(), now)
            if not sess.sockets:
                self.store.track_conn(self.instance, sess.sid, False)

    async def control(self, msg: dict[str, Any]) -> None:
        """An erasure announced by another instance (or replayed from the list): drop the visitors
        (named by vid_hash), flush what was queued for them, and confirm."""
        eid = msg.get("id")
        if eid is not None and eid in self.seen_erasures:
            return
        if eid is not None:
            self.seen_erasures[eid] = self.clock()
        await self._drop(set(msg.get("erase") or ()))
        if eid is not None:
            await self.store.writer.commit()
            await self.store.ack_erasure(eid, self.instance)

    async def replay_erasures(self) -> None:
        """Erasures this instance may have missed (pub/sub is not reliable across reconnects)."""
        since = self._erasures_checked - 60  # a margin for clocks that disagree a little
        for eid, vids, at in await self.store.erasures_since(since):
            await self.control({"erase": vids, "id": eid})
            self._erasures_checked = max(self._erasures_checked, at)

    # ------------------------------------------------------------ carrying out the core's actions

    def _apply(self, sess: Session, conn: str, ev: Event, now: float, held: list[dict[str, Any]] | None = None,
               cause: str = "") -> list[Action]:
        if sess.sid in self.erased:
            return []
        rev, engaged = sess.hist_rev, sess.engaged
        actions = step(sess, conn, ev, now, self.timing, self.rules_for(sess.site))
        self.store.save_session(sess.sid, sess, self.ttl)
        if sess.hist_rev != rev and engaged == sess.engaged:  # the visitor's campaign history outlives the session
            self.store.save_visitor(sess.vid, {"hist": sess.hist}, self.visitor_ttl(sess.engaged))
        for a in actions:
            self._perform(sess, a, held, cause, now)
        return actions

    def _perform(self, sess: Session, a: Action, held: list[dict[str, Any]] | None, cause: str, now: float) -> None:
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
                self.store.campaigns.count(sess.site, cid, var, counts)
            case Record(kind=kind, data=data):
                rid = f"{sess.vid}.{cause}" if cause else None  # a retried write lands once
                self.store.records.add(kind, sess.site, sess.vid, data, now, rid=rid)
            case Publish(event=event, data=data):
                self.metrics.count(self.metrics.events, event)
                self.store.publish(sess.site, {"event": event, "sid": sess.sid, "vid": sess.vid, **data})
                self._outbound(sess, event, data, cause, now)
            case Send(msg=msg, to=to):
                self.metrics.count(self.metrics.decisions, msg["t"])
                if held is not None:
                    held.append(msg)
                    return
                for cid, peer in list(self.sockets.get(sess.sid, {}).items()):
                    if not to or cid == to:
                        peer.push(msg)
            case End():
                self.store.end_session(sess.site, sess.sid)
            case Engage():
                self.store.save_visitor(sess.vid, {"engaged": True, "hist": sess.hist}, self.visitor_ttl(True))

    def _outbound(self, sess: Session, event: str, data: dict[str, Any], cause: str, now: float) -> None:
        """Alerts and webhook deliveries for a notable event, queued in the same batch as the event,
        with ids derived from what caused them so that a repeated write queues each once."""
        conf = self.cfg.sites[sess.site]
        cause = cause or mint_id()
        for name, payload in outbound(event, data, sess, conf.alert_cart_total, now):
            if name == "alert.raised":
                self.metrics.count(self.metrics.events, "alert.raised")
                self.store.records.add("alert", sess.site, sess.vid, payload, now, rid=f"{sess.vid}.{cause}.alert")
            for hook in conf.webhooks:
                if name in hook.events:
                    did = delivery_id(hook.url, sess.site, sess.vid, cause, name)
                    self.store.deliveries.enqueue(make_delivery(did, sess.site, hook.url, name, payload, now,
                                                                sess.vid), now, sess.vid)

    # ------------------------------------------------------------ timers

    def _fire_local(self, sid: str, kind: str) -> None:
        sess = self.sessions.get(sid)
        if sess is not None:  # a cause derived from the session, so a repeated alert has the same delivery id
            self._apply(sess, "", Timer(kind), self.clock(), cause=f"timer.{kind}.{sess.last_act}")

    async def fire_due(self) -> int:
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

    async def _timer_loop(self) -> None:
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

    def _forget_stored(self) -> None:
        stored = self.store.writer.stored_gen
        for key in [k for k, gen in self.unsure.items() if gen <= stored]:
            del self.unsure[key]

    # ------------------------------------------------------------ sessions not connected here

    async def _session(self, sid: str, now: float) -> Session | None:
        """This instance's copy if the session is connected here, else the stored one, with the
        sockets of instances known to be gone closed the regular way (which starts the leave timer)."""
        sess = self.sessions.get(sid)
        if sess is not None:
            return sess
        raw = await self.store.load_session(sid)
        return None if raw is None else self._revive(Session.from_dict(raw), now)

    def _revive(self, sess: Session, now: float) -> Session:
        for inst in {c.split(".", 1)[0] for c in sess.sockets} - self.cluster.alive:
            self._apply(sess, "", InstanceGone(inst), now)
        return sess

    async def _take_over(self, inst: str) -> None:
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

