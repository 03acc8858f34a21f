"""The generic durable job queue (store/queue.py) against a real valkey, in-process, with explicit
times instead of a clock: lanes, leases, retry with an attempt log, once-only ids, cancellation
racing a worker, and erasure of a visitor's jobs in every queue."""

from __future__ import annotations

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
        store = Store(redis.url, prefix=f"t{id(body)}:")
        await store.open()
        try:
            return await body(store)
        finally:
            await store.close()
    return run_async(run)


def test_a_lane_backlog_does_not_hold_up_another_lane(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[list[str], list[str], list[str]]:
        q = store.queue("push")
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
        q = store.queue("email")
        q.enqueue(job("a-1"), 10.0)
        await store.writer.commit()
        first = len(await q.lease("a", 5, 10.0, 70.0))  # the worker takes it until 70, then dies
        during = len(await q.lease("a", 5, 50.0, 110.0))
        after = len(await q.lease("a", 5, 71.0, 131.0))
        return first, during, after

    assert scenario(redis, body) == (1, 0, 1)


def test_retry_keeps_an_attempt_log_and_finish_writes_the_site_log(redis: Valkey) -> None:
    async def body(store: Store) -> tuple[Any, ...]:
        q = store.queue("push")
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
        q = store.queue("email")
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
        q = store.queue("email")
        q.enqueue(job("c-1"), 10.0)
        q.enqueue(job("c-2"), 10.0)
        await store.writer.commit()
        leased = await q.lease("c", 5, 10.0, 70.0)
        cancelled = await q.cancel(["c-1", "c-2", "c-unknown"], "returned", 11.0)
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
        store.queue("push").enqueue(job("p-1", vid="gone"), 10.0)
        store.queue("email").enqueue(job("e-1", vid="gone"), 10.0)
        store.queue("email").enqueue(job("e-2", vid="stays"), 10.0)
        await store.writer.commit()
        counts, _ = await store.leads.erase("demo", "a@b.example", {"gone"}, [])
        push = len(await store.queue("push").lease("p", 5, 1e9, 2e9))
        email = [j["id"] for j in await store.queue("email").lease("e", 5, 1e9, 2e9)]
        return counts["deliveries"], push, len(email) if email == ["e-2"] else -1

    assert scenario(redis, body) == (2, 0, 1)
