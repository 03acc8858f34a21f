"""The group-commit writer against a real valkey, in-process: a client message's effects happen
once per id however often a batch is retried and whichever instance writes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.exceptions import RedisError

from server.store import Retention, Store
from tests.support import Valkey, run_async

pytestmark = pytest.mark.integration


def test_an_id_is_applied_once_across_instances_and_retries(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()

    async def scenario() -> tuple[int, int, bool]:
        a, b = Store(redis.url, retention=Retention()), Store(redis.url, retention=Retention())
        await a.open()
        await b.open()
        try:
            for store in (a, b):  # two instances apply the same purchase id
                with store.applying("vid1", "buy-1"):
                    store.records.add("purchase", "demo", "vid1", {"total": 89}, 1.0)
                    store.writer.cmd("HINCRBYFLOAT", "lg:test:revenue", "demo", 89)
                await store.writer.commit(durable=True)
            await a.r.config_set("maxmemory", 1)  # full: the batch fails and is kept for a retry
            with a.applying("vid1", "buy-2"):
                a.writer.cmd("HINCRBYFLOAT", "lg:test:revenue", "demo", 10)
            failed = False
            try:
                await a.writer.commit(durable=True)
            except RedisError:
                failed = True
            await a.r.config_set("maxmemory", 0)
            with a.applying("vid1", "buy-2"):  # the client resent it meanwhile (another path queued it again)
                a.writer.cmd("HINCRBYFLOAT", "lg:test:revenue", "demo", 10)
            await a.writer.commit(durable=True)  # the retried batch and the new one: buy-2 once
            revenue = float(await a.r.hget("lg:test:revenue", "demo"))
            return await a.records.count("purchase", "demo"), int(revenue), failed
        finally:
            await a.close()
            await b.close()

    try:
        purchases, revenue, failed = run_async(scenario)
        assert failed and purchases == 1 and revenue == 99
    finally:
        redis.stop()


def test_counters_can_only_be_written_on_the_once_only_path(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()

    async def scenario() -> None:
        store = Store(redis.url)
        await store.open()
        try:
            with pytest.raises(RuntimeError, match="only written inside store.applying"):
                store.campaigns.count("demo", "c1", "a", {"shown": 1}, 1.0)
        finally:
            await store.close()

    try:
        run_async(scenario)
    finally:
        redis.stop()


def test_a_visitors_session_index_keeps_the_newest_thousand(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()

    async def scenario() -> tuple[int, bool]:
        store = Store(redis.url)
        await store.open()
        try:
            for n in range(1010):
                store.sessions.index("demo", "v1", f"s{n}", float(n), 3600)
            await store.writer.commit()
            key = store.k.visitor_sessions("v1")
            return int(await store.r.zcard(key)), bool(await store.r.zscore(key, "s1009"))
        finally:
            await store.close()

    try:
        assert run_async(scenario) == (1000, True)
    finally:
        redis.stop()
