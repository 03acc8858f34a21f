"""The generic durable job queue (store/queue.py) against a real valkey, in-process, with explicit
times instead of a clock: lanes, leases, retry with an attempt log, once-only ids, cancellation
racing a worker, and erasure of a visitor's jobs in every queue."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from server.store import Store
from tests.support import Valkey, run_async

pytestmark = pytest.mark.integration


def job(jid: str, vid: str = "v1", site: str = "demo") -> dict[str, Any]:
    return {"id": jid, "site": site, "vid": vid, "attempts": 0}


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Any:
    r = Valkey(tmp_path_factory.mktemp("queue")).start()
    yield r
    r.stop()


def scenario(redis: Valkey, body: Any) -> Any:
    async def run() -> Any:
        store = Store(redis.url, prefix=f"t{uuid.uuid4().hex[:8]}:")  # each test its own keys
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()
    return run_async(run)


def test_a_lane_backlog_does_not_hold_up_another_lane(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[list[str], list[str], list[str]]:
        q = store.queue("followups")
        for n in range(50):
            q.enqueue(job(f"slow-{n}"), 10.0)
        q.enqueue(job("fast-1"), 20.0)
        await store.writer.commit()
        lanes_early = await q.due_lanes(15.0)
        lanes = await q.due_lanes(25.0)
        fast = [j["id"] for j in await q.lease("fast", 5, 25.0, 100.0)]
        return lanes_early, sorted(lanes), fast

    early, lanes, fast = scenario(redis, body)
    assert early == ["slow"] and lanes == ["fast", "slow"] and fast == ["fast-1"]


def test_a_leased_job_comes_back_when_its_worker_dies_and_not_before(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[int, int, int]:
        q = store.queue("webhooks")
        q.enqueue(job("a-1"), 10.0)
        await store.writer.commit()
        first = len(await q.lease("a", 5, 10.0, 70.0))  # the worker takes it until 70, then dies
        during = len(await q.lease("a", 5, 50.0, 110.0))
        after = len(await q.lease("a", 5, 71.0, 131.0))
        return first, during, after

    assert scenario(redis, body) == (1, 0, 1)


def test_retry_keeps_an_attempt_log_and_finish_writes_the_site_log(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[Any, ...]:
        q = store.queue("followups")
        q.enqueue(job("p-1"), 10.0)
        await store.writer.commit()
        (j,) = await q.lease("p", 1, 10.0, 70.0)
        for n in range(12):
            assert await q.retry(j, 11.0 + n, {"at": 10.0 + n, "result": f"HTTP 50{n % 10}"})
        (j,) = await q.lease("p", 1, 30.0, 90.0)
        finished = await q.finish(j, {"id": "p-1", "status": "delivered", "at": 30.0})
        again = await q.finish(j, {"id": "p-1", "status": "delivered", "at": 31.0})
        return len(j["tries"]), j["tries"][-1]["result"], finished, again, await q.log("demo"), \
            await q.visitor_jobs("v1")

    tries, last, finished, again, log, pending = scenario(redis, body)
    assert tries == 10 and last == "HTTP 501"  # the last ten attempts are kept
    assert finished and not again  # finished once; a second outcome changes nothing
    assert [e["status"] for e in log] == ["delivered"] and pending == []


def test_an_id_is_queued_once_even_after_it_finished(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[int, int, bool]:
        q = store.queue("webhooks")
        q.enqueue(job("e-1"), 10.0)
        q.enqueue(job("e-1"), 5.0)  # the same cause twice in one batch
        await store.writer.commit()
        (j,) = await q.lease("e", 5, 10.0, 70.0)
        await q.finish(j, {"id": "e-1", "status": "delivered", "at": 10.0})
        q.enqueue(job("e-1"), 20.0)  # a replayed event queues it again after it was sent
        await store.writer.commit()
        return len(await q.lease("e", 5, 100.0, 160.0)), len(await q.due_lanes(1e9)), await q.still_wanted("e-1")

    assert scenario(redis, body) == (0, 0, False)


def test_a_cancellation_wins_over_a_worker_that_already_leased_the_job(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[Any, ...]:
        q = store.queue("webhooks")
        q.enqueue(job("c-1"), 10.0)
        q.enqueue(job("c-2"), 10.0)
        await store.writer.commit()
        leased = await q.lease("c", 5, 10.0, 70.0)
        cancelled = len(await q.cancel(["c-1", "c-2", "c-unknown"], "returned", 11.0))
        wanted = await q.still_wanted("c-1")
        retried = await q.retry(leased[0], 20.0, {"at": 12.0, "result": "HTTP 503"})
        delivered = await q.finish(leased[1], {"id": "c-2", "status": "delivered", "at": 12.0})
        return cancelled, wanted, retried, delivered, [e["status"] for e in await q.log("demo")], \
            len(await q.lease("c", 5, 1e9, 2e9))

    cancelled, wanted, retried, delivered, log, later = scenario(redis, body)
    assert cancelled == 2 and not wanted and not retried and not delivered
    assert log == ["cancelled", "cancelled"] and later == 0


def test_erasure_removes_the_visitors_jobs_in_every_queue(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[int, int, int]:
        store.queue("followups").enqueue(job("p-1", vid="gone"), 10.0)
        store.queue("webhooks").enqueue(job("e-1", vid="gone"), 10.0)
        store.queue("webhooks").enqueue(job("e-2", vid="stays"), 10.0)
        await store.writer.commit()
        counts, _ = await store.leads.erase("demo", "a@b.example", {"gone"}, [])
        push = len(await store.queue("followups").lease("p", 5, 1e9, 2e9))
        email = [j["id"] for j in await store.queue("webhooks").lease("e", 5, 1e9, 2e9)]
        return counts["deliveries"], push, len(email) if email == ["e-2"] else -1

    assert scenario(redis, body) == (2, 0, 1)


def test_erasure_takes_tombstones_and_claims_too_from_a_store_that_never_used_the_queue(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[list[str], int]:
        q = store.queue("followups")
        q.enqueue(job("e-1", vid="gone"), 10.0)
        q.enqueue(job("e-2", vid="gone"), 10.0)
        await store.writer.commit()
        j1, j2 = await q.lease("e", 5, 10.0, 70.0)
        assert await q.claim(j1["id"])
        await q.finish(j1, {"id": j1["id"], "status": "sent", "at": 10.0})  # leaves a tombstone
        fresh = Store(redis.url, prefix=store.k.p)  # another instance, which never touched the queue
        await fresh.open()
        try:
            counts, _ = await fresh.leads.erase("demo", "a@b.example", {"gone"}, [])
        finally:
            await fresh.close()
        left = [k.decode() async for k in store.r.scan_iter(f"{store.k.p}*e-*")]
        return left, counts["deliveries"]

    left, erased = scenario(redis, body)
    assert left == [] and erased == 2


def test_done_is_reserved_in_a_job(redis: Valkey) -> None:
    async def body(store: Store) -> None:
        with pytest.raises(ValueError, match="reserved"):
            store.queue("followups").enqueue({**job("x-1"), "done": None}, 1.0)

    scenario(redis, body)


def test_a_bad_message_or_a_failing_handler_never_ends_the_subscription(redis: Valkey) -> None:
    import asyncio

    async def body(store: Store) -> list[Any]:
        got: list[Any] = []

        async def handler(msg: Any) -> None:
            if msg == {"boom": True}:
                raise KeyError("a handler bug")
            got.append(msg)

        store.bus.on("chan", handler)
        task = asyncio.get_running_loop().create_task(store.bus.run())
        try:
            while not (await store.r.pubsub_numsub("chan"))[0][1]:
                await asyncio.sleep(0.01)
            for raw in (b"not json", b'{"boom": true}', b"[1]", b'{"ok": 1}'):
                await store.r.publish("chan", raw)
            for _ in range(200):
                if {"ok": 1} in got:
                    break
                await asyncio.sleep(0.01)
            with pytest.raises(RuntimeError):
                store.bus.on("late", handler)  # registered after the start: refused, not silently deaf
            return got
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert scenario(redis, body) == [[1], {"ok": 1}]


def test_a_subscription_failing_n_times_in_a_row_is_dropped_and_a_success_resets_the_count(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[list[bool], bool, Any]:
        fs = store.followups
        sub = {"endpoint": "https://fcm.googleapis.com/a", "keys": {"p256dh": "k", "auth": "a"}}
        fs.subscribe("v1", sub, "key1", 1.0, 3600)
        await store.writer.commit()
        first = [await fs.push_failed("v1", sub["endpoint"], 3) for _ in range(2)]
        await fs.push_worked("v1", sub["endpoint"])  # a success in between: the count starts again
        again = [await fs.push_failed("v1", sub["endpoint"], 3) for _ in range(3)]
        other = await fs.push_failed("v1", "https://fcm.googleapis.com/other", 1)  # not the stored one: no effect
        return first + again, other, await fs.subscription("v1")

    fails, other, left = scenario(redis, body)
    assert fails == [False, False, False, False, True] and other is False and left is None
