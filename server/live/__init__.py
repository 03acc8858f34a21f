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
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..core import protocol as p
from ..core.admit import SitePolicy
from ..core.leads import capture_from, normalize_email
from ..core.ratelimit import PerAddress
from ..core.rules import SiteRules
from ..core.session import Connect, Disconnect, LeadEmail, Session, Timer, Timing, new_session
from ..core.step import refusal
from ..core.wire import Outbound
from ..health import Health
from ..metrics import Metrics
from ..store import Store, StoreError, WriteFailed
from .cluster import Cluster
from .common import NO_RULES, Peer, Refused, load_rules, log, mint_id, vid_hash
from .erasure import Erasure
from .executor import Executor
from .local_timers import LocalTimers
from .timers import TimerHandler, Timers

__all__ = ["Live", "Peer", "Refused", "mint_id", "vid_hash"]

MAX_BACKLOG = 100_000  # queued writes beyond which id messages are refused (`unavailable`) before applying


class Live(Erasure, Executor, Timers):
    def __init__(self, cfg: Config, store: Store, metrics: Metrics, clock: Callable[[], float] = time.time,
                 health: Health | None = None) -> None:
        self.cfg, self.store, self.metrics, self.clock = cfg, store, metrics, clock
        self.health = health or store.health
        self.timing = Timing(idle_after=cfg.timing.idle_after_ms / 1000, leave_grace=cfg.timing.leave_grace_s,
                             session_timeout=cfg.timing.session_timeout_s)
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
        self.vapid_public = ""  # the VAPID key subscriptions are made with (set by the app at start)
        self.rules: dict[str, SiteRules] = {}
        self.timer_handlers: dict[str, TimerHandler] = {}  # shared timers that are not sessions' (on_timer)
        self.unknown_timer_kinds: set[str] = set()
        self.policies = {key: SitePolicy(origins=s.origins, currency=s.currency, image_hosts=s.image_hosts,
                                         keep_params=s.keep_query_params, push_hosts=cfg.push.allowed_hosts)
                         for key, s in cfg.sites.items()}
        self.limits = PerAddress(cfg.limits.sockets_per_ip, {
            "visitor": PerAddress.per_minute(cfg.limits.new_visitors_per_ip_per_min),
            "session": PerAddress.per_minute(cfg.limits.new_sessions_per_ip_per_min),
            "lead": PerAddress.per_hour(cfg.limits.leads_per_ip_per_hour),
            "message": PerAddress.per_minute(cfg.limits.messages_per_ip_per_min)})
        self.local = LocalTimers(self._fire_local, clock)
        self.cluster = Cluster(store, self.instance, cfg.server.heartbeat_s, clock, self.health, self._take_over,
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
        self.store.bus.on(self.store.k.campaigns_channel, self.campaigns_changed, json=False)
        self.store.bus.on(self.store.k.control_channel, self.control)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._timer_loop(), name="linger-timers"),
                       loop.create_task(self.cluster.run(), name="linger-heartbeat"),
                       loop.create_task(self.store.bus.run(), name="linger-pubsub")]

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
            await self.store.instances.forget(self.instance)
        except (StoreError, OSError):
            pass

    def later(self, work: Any) -> None:
        """Run a coroutine in the background, cancelled at stop."""
        task = asyncio.get_running_loop().create_task(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def new_conn_id(self) -> str:
        self._conn_seq += 1
        return f"{self.instance}.{self._conn_seq}"

    def visitor_ttl(self, engaged: bool) -> int:
        return int(self.store.retention.visitors) if engaged else self.ttl

    # ------------------------------------------------------------ socket events

    async def hello(self, conn: str, site: str, h: p.Hello, peer: Peer,
                    ip: str = "") -> tuple[Session, bool, list[Outbound]]:
        """Start or resume the session; returns it, whether it was resumed, and messages for the socket
        (arm and popup messages decided on connect, which the caller sends after `ready`)."""
        now = self.clock()
        visitor = await self.store.sessions.load_visitor(h.vid) if h.vid else None
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
            self.store.sessions.index(site, sess.vid, sess.sid, now, self.visitor_ttl(sess.engaged))
            self.metrics.sessions_started.inc()
            fields.update(site=site, first_seen=visitor["first_seen"], visits=visitor["visits"], last_sid=sess.sid)
        self.store.sessions.save_visitor(sess.vid, fields, self.visitor_ttl(sess.engaged))
        if sess.engaged:
            self.store.followups.keep_subscription(sess.vid, self.visitor_ttl(True))
        sess.followups = sess.followups or visitor.get("fu") == "1"  # a plan of an earlier visit is stopped too
        sess.followup_click = visitor.get("fuclick") or sess.followup_click
        if visitor.get("email") and not sess.email:  # identified by an earlier capture
            sess.email, sess.has_email = visitor["email"], True
            sess.email_consent = visitor.get("consent") == "1"
        self.sessions[sess.sid] = sess
        if sess.sid not in self.sockets:
            self.store.instances.track_conn(self.instance, sess.sid, True)
        self.sockets.setdefault(sess.sid, {})[conn] = peer
        held: list[Outbound] = []
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
        if isinstance(msg, p.Email):  # what the core cannot look up itself: the stored lead, the limit
            would = capture_from(sess.site, self.cfg.sites[sess.site].capture, sess, msg, now)[0] is not None
            msg = LeadEmail(msg, lead, limited=would and not self.limits.allow("lead", ip, now))
        with self.store.applying(*key, now):  # nothing below awaits until the effects are queued
            self._apply(sess, conn, msg, now, cause=key[1])
        self.unsure[key] = writer.next_gen
        await asyncio.shield(writer.commit(durable=True))
        self.unsure.pop(key, None)

    def bye(self, conn: str, sess: Session) -> None:
        self._apply(sess, conn, Disconnect(), self.clock())
        local = self.sockets.get(sess.sid)
        if local is not None:
            local.pop(conn, None)
            if not local:
                del self.sockets[sess.sid]
                self.sessions.pop(sess.sid, None)
                self.local.drop(sess.sid)
                self.store.instances.track_conn(self.instance, sess.sid, False)

    def counts_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.sessions.values():
            counts[s.state] = counts.get(s.state, 0) + 1
        return counts
