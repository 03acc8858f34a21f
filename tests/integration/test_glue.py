"""The glue (server/live) in-process, with a fake clock and a real valkey: no server process, no
sleeping. Each test drives `Live` directly the way the socket handler does.

Covers what the issue on structure asked for: idempotency of ids across sockets and instances, the
`unavailable` path (a Redis that refuses writes acks nothing and changes nothing), the writer's
requeue, erasure, and shared timers dispatched by owner."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from server import config
from server.core import protocol as p
from server.core.wire import Outbound
from server.live import Live
from server.metrics import Metrics
from server.store import Store, StoreError
from tests.support import Valkey, hello, run_async

pytestmark = pytest.mark.integration

SITE = {"key": "demo", "name": "Demo", "origins": ["https://shop.example"], "currency": "EUR",
        "capture": "live"}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Peer:
    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.closed: int | None = None

    def push(self, msg: Outbound) -> None:
        self.sent.append(msg)

    async def close(self, code: int, reason: str = "") -> None:
        self.closed = code


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    r = Valkey(tmp_path_factory.mktemp("glue")).start()
    yield r
    r.stop()


Body = Callable[[Live, Clock], Awaitable[Any]]


def with_live(redis: Valkey, body: Body, instances: int = 1) -> Any:
    """Run `body(live, clock)` (or `body(lives, clock)` for several instances on one Redis)."""
    cfg = config.load(doc={"sites": [SITE]}, env={}, overrides={
        "redis.url": redis.url, "limits.messages_per_ip_per_min": 0, "limits.new_visitors_per_ip_per_min": 0,
        "limits.new_sessions_per_ip_per_min": 0})

    async def run() -> Any:
        clock = Clock()
        prefix = f"g{uuid.uuid4().hex[:8]}:"  # each test its own keys
        lives = []
        for _ in range(instances):
            store = Store(redis.url, prefix=prefix)
            await store.open()
            live = Live(cfg, store, Metrics(), clock=clock)
            await live.load_rules("demo")
            lives.append(live)
        try:
            return await body(lives[0] if instances == 1 else lives, clock)  # type: ignore[arg-type]
        finally:
            for live in lives:
                live.local.close()
                await live.store.close()
    return run_async(run)


def frame(**msg: Any) -> p.Message:
    return p.parse(orjson.dumps(msg))


async def connect(live: Live, vid: str | None = None, sid: str | None = None, **kw: Any) -> tuple[str, Any, Peer]:
    conn, peer = live.new_conn_id(), Peer()
    h = frame(**hello(vid, sid, **kw))
    assert isinstance(h, p.Hello)
    sess, _, _ = await live.hello(conn, "demo", h, peer)
    return conn, sess, peer


PURCHASE = {"t": "purchase", "id": "buy-1", "order": "A-1", "total": 89.0, "currency": "EUR"}


def test_one_id_sent_to_two_instances_is_applied_once(redis: Valkey) -> None:
    async def body(lives: list[Live], clock: Clock) -> int:
        a, b = lives
        conn, sess, _ = await connect(a)
        await a.store.writer.commit(durable=True)
        conn_b, sess_b, _ = await connect(b, vid=sess.vid, sid=sess.sid)
        assert await a.message(conn, sess, frame(**PURCHASE)) == "buy-1"
        clock.now += 1
        assert await b.message(conn_b, sess_b, frame(**PURCHASE)) == "buy-1"  # acked again, applied once
        assert await a.message(conn, sess, frame(**PURCHASE)) == "buy-1"
        return await a.store.records.count("purchase", "demo")

    assert with_live(redis, body, instances=2) == 1


def test_a_redis_that_refuses_writes_acks_nothing_and_the_resend_applies_once(redis: Valkey) -> None:
    async def body(live: Live, clock: Clock) -> tuple[bool, int, int]:
        conn, sess, _ = await connect(live)
        await live.store.writer.commit(durable=True)
        await live.store.r.config_set("maxmemory", 1)  # full: every write is refused
        refused = False
        try:
            await live.message(conn, sess, frame(**PURCHASE))
        except StoreError:
            refused = True  # the socket handler answers `unavailable`; the client keeps the message
        finally:
            await live.store.r.config_set("maxmemory", 0)
        during = await live.store.records.count("purchase", "demo")
        clock.now += 5
        assert await live.message(conn, sess, frame(**PURCHASE)) == "buy-1"  # the resend, after the writer's requeue
        await live.store.writer.commit(durable=True)
        return refused, during, await live.store.records.count("purchase", "demo")

    refused, during, after = with_live(redis, body)
    assert refused and during == 0 and after == 1


def test_erasure_ends_the_connected_session_and_leaves_no_lead(redis: Valkey) -> None:
    async def body(live: Live, clock: Clock) -> tuple[Any, ...]:
        conn, sess, peer = await connect(live)
        email = frame(t="email", id="em-1", email="Ann@Example.com", source="field", field="email", consent=True)
        await live.message(conn, sess, email)
        lead_before = await live.store.leads.load("demo", "ann@example.com")
        clock.now += 1
        counts = await live.erase("demo", "ann@example.com")
        return lead_before is not None, counts["lead"], await live.store.leads.load("demo", "ann@example.com"), \
            await live.store.sessions.load_visitor(sess.vid), peer.closed

    had, erased, lead, visitor, closed = with_live(redis, body)
    assert had and erased == 1 and lead is None and visitor is None and closed is not None


def test_shared_timers_go_to_their_owner_and_never_to_a_session_by_mistake(redis: Valkey) -> None:
    async def body(live: Live, clock: Clock) -> tuple[Any, ...]:
        conn, sess, _ = await connect(live)
        got: list[tuple[str, float]] = []

        async def follow_up(owner: str, now: float) -> None:
            got.append((owner, now))

        fails = {"n": 0}

        async def flaky(owner: str, now: float) -> None:
            fails["n"] += 1
            raise OSError("the mail server is down")

        live.on_timer("followup", follow_up)
        live.on_timer("flaky", flaky)
        with pytest.raises(ValueError):
            live.on_timer("leave", follow_up)  # a session's kind cannot be taken over
        # an owner that happens to look like this session's id is still not the session's
        live.store.timers.schedule("followup", sess.sid, clock.now - 1)
        live.store.timers.schedule("flaky", "cart-9", clock.now - 1)
        live.store.timers.schedule("mystery", sess.sid, clock.now - 1)
        await live.store.writer.commit()
        state = sess.state
        fired = await live.fire_due()
        await live.store.writer.commit()
        left = {m.decode() for m in await live.store.r.zrange(live.store.k.timers, 0, -1)}
        assert got == [(sess.sid, clock.now)]  # the owner as scheduled, at the fake clock's time
        return got, fired, state == sess.state, left, fails["n"], sess.sid

    got, fired, unchanged, left, fails, sid = with_live(redis, body)
    assert len(got) == 1 and fired == 3 and unchanged and fails == 1
    # the failed one waits for its lease; a kind nobody here handles is left for an instance that does
    assert left == {"flaky|cart-9", f"mystery|{sid}"}


def test_a_visit_resumes_within_the_session_timeout_and_a_new_one_starts_after_it(redis: Valkey) -> None:
    async def body(live: Live, clock: Clock) -> tuple[Any, ...]:
        conn, first, _ = await connect(live)
        live.bye(conn, first)
        await live.store.writer.commit()
        clock.now += live.timing.session_timeout - 1
        conn, second, _ = await connect(live, vid=first.vid, sid=first.sid)
        live.bye(conn, second)
        await live.store.writer.commit()
        clock.now += live.timing.session_timeout + 1  # no sleeping: the fake clock moves
        conn, third, _ = await connect(live, vid=first.vid, sid=first.sid)
        return first.sid, second.sid, third.sid, third.returning, third.visit, third.first_seen, third.started

    first, second, third, returning, visit, first_seen, started = with_live(redis, body)
    assert second == first and third != first and returning and visit == 2 and first_seen < started


def test_a_product_page_does_not_go_idle_however_long_it_is_open(redis: Valkey) -> None:
    async def body(live: Live, clock: Clock) -> tuple[str, str]:
        _, sess, _ = await connect(live)  # the product page of tests.support.hello
        clock.now += 10 * live.timing.idle_after
        live._fire_local(sess.sid, "idle")  # as if an idle timer had been left armed
        product = sess.state
        _, shopper, _ = await connect(live, url="https://shop.example/checkout", kind="checkout")
        clock.now += live.timing.idle_after + 1
        live._fire_local(shopper.sid, "idle")
        return product, shopper.state

    assert with_live(redis, body) == ("active", "idle")


def test_a_timer_member_that_is_not_ours_is_removed_not_leased_forever(redis: Valkey) -> None:
    async def body(live: Live, clock: Clock) -> Any:
        await live.store.r.zadd(live.store.k.timers, {"nopipe": clock.now - 1})
        await live.fire_due()
        return await live.store.r.zscore(live.store.k.timers, "nopipe")

    assert with_live(redis, body) is None


def test_a_webhook_erased_while_leased_is_not_sent(redis: Valkey) -> None:
    from server.workers.webhooks import Deliverer

    async def body(live: Live, clock: Clock) -> list[str]:
        deliverer = Deliverer(live.cfg, live.store)
        posted: list[str] = []

        async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
            posted.append(url)
            return True, "HTTP 200"

        deliverer.post = post  # type: ignore[method-assign]
        job = {"id": "ab12-x", "site": "demo", "vid": "v", "url": "https://crm.example/h", "event": "purchase",
               "body": "{}", "attempts": 0, "created": clock.now, "last": None}
        try:
            await deliverer.attempt(job)  # its body was erased after the lease: nothing goes out
        finally:
            await deliverer.client.aclose()
        return posted

    assert with_live(redis, body) == []


def worker_case(redis: Valkey, tmp_path: Any, body: Any) -> Any:
    """Run body(worker, store, sent) with a FollowUpWorker whose mailer records instead of sending and
    one visitor (v1, with consent) whose email step 1 is due."""
    from server.signing import Signer
    from server.vapid import create
    from server.workers.followups import FollowUpWorker

    cfg = config.load(doc={"sites": [{**SITE, "followups": {"push_after_s": [], "email_after_s": [60, 120]}}],
                           "email": {"from": "Shop <shop@shop.example>"}}, env={},
                      overrides={"redis.url": redis.url, "server.data_dir": str(tmp_path)})

    async def run() -> Any:
        store = Store(redis.url, prefix=f"g{uuid.uuid4().hex[:8]}:")
        await store.open()
        sent: list[str] = []
        try:
            worker = FollowUpWorker(cfg, store, create(tmp_path / "vapid.pem")[0], Signer("s" * 40), clock=lambda: 1e9)

            async def send(msg: Any) -> str:
                sent.append(msg["To"])
                return "250 OK"

            worker.mailer.send = send  # type: ignore[method-assign]
            store.sessions.save_visitor("v1", {"site": "demo", "last_seen": 1.0, "email": "ann@example.com",
                                               "consent": "1", "last_sid": "s1"}, 3600)
            job = {"id": "email-abc", "site": "demo", "vid": "v1", "sid": "s1", "channel": "email", "step": 1,
                   "plan": "p1", "cart": {"count": 1, "total": 5.0, "currency": "EUR", "items": []}, "tz": "",
                   "lang": "", "created": 10.0, "at": 70.0, "attempts": 0}
            worker.q.enqueue(job, 70.0)
            await store.writer.commit()
            return await body(worker, store, sent)
        finally:
            await store.close()
    return run_async(run)


def test_a_step_claimed_by_a_worker_that_died_goes_out_at_most_once_and_the_plan_goes_on(
        redis: Valkey, tmp_path: Any) -> None:
    async def body(worker: Any, store: Store, sent: list[str]) -> tuple[int, list[int]]:
        (leased,) = await worker.q.lease("email", 5, 100.0, 160.0)
        assert await worker.q.claim(leased["id"])  # a worker claimed it, then died before finishing
        (again,) = await worker.q.lease("email", 5, 200.0, 260.0)  # its lease ran out
        await worker.handle(again)
        return len(sent), [j["step"] for j in await worker.q.pending("demo", ["email"])]

    sends, steps = worker_case(redis, tmp_path, body)
    assert sends == 0 and steps == [2]  # never twice; step 2 is queued, timed from that (unconfirmed) send


def test_a_step_erased_while_it_was_sent_leaves_no_next_step_behind(redis: Valkey, tmp_path: Any) -> None:
    async def body(worker: Any, store: Store, sent: list[str]) -> tuple[int, list[Any], int]:
        (leased,) = await worker.q.lease("email", 5, 100.0, 160.0)
        real = worker.mailer.send

        async def send_while_erased(msg: Any) -> str:
            await store.leads.erase("demo", "ann@example.com", {"v1"}, [])  # GDPR erasure mid-send
            return str(await real(msg))

        worker.mailer.send = send_while_erased
        await worker.handle(leased)
        index = await store.r.exists(worker.q.q.visitor + "v1")
        return len(sent), await worker.q.pending("demo", ["email"]), index

    sends, pending, index = worker_case(redis, tmp_path, body)
    assert sends == 1 and pending == [] and index == 0  # nothing of the visitor comes back


def test_a_step_cancelled_after_its_checks_is_not_sent(redis: Valkey, tmp_path: Any) -> None:
    async def body(worker: Any, store: Store, sent: list[str]) -> int:
        (leased,) = await worker.q.lease("email", 5, 100.0, 160.0)
        real = worker.obstacle

        async def checks_then_cancel(job: Any) -> Any:
            why = await real(job)
            await store.followups.cancel(worker.q, [job["id"]], "unsubscribed", 101.0)  # lands right after
            return why

        worker.obstacle = checks_then_cancel
        await worker.handle(leased)
        return len(sent)

    assert worker_case(redis, tmp_path, body) == 0


def test_a_step_due_after_the_job_lifetime_is_kept_until_it_is_due(redis: Valkey, tmp_path: Any) -> None:
    import time as _time

    async def body(worker: Any, store: Store, sent: list[str]) -> int:
        due = _time.time() + 30 * 86400
        worker.q.enqueue({"id": "email-late", "site": "demo", "vid": "v1", "channel": "email", "step": 2}, due)
        await store.writer.commit()
        return int(await store.r.ttl(worker.q.job_key("email-late")))

    assert worker_case(redis, tmp_path, body) > 30 * 86400


def test_the_lease_outlasts_the_longest_send() -> None:
    from server.workers.followups import lease_for
    from server.workers.mailer import conversation_deadline

    cfg = config.load(doc={"sites": [SITE], "email": {"timeout_s": 125}, "push": {"timeout_s": 120}}, env={})
    assert lease_for(cfg) > conversation_deadline(125) and lease_for(cfg) > 2 * 120
