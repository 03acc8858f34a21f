"""Small parts of the glue, with a fake socket and the event loop: one ordered outbound path per
socket, and the in-memory timers of connected shoppers."""

from __future__ import annotations

import asyncio
from typing import Any

from server.core import wire
from server.live.local_timers import LocalTimers
from server.ws import Conn
from tests.support import run_async


class FakeSocket:
    """Sends take varying time, as a real socket under backpressure does."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.n = 0

    async def send_text(self, text: str) -> None:
        self.n += 1
        await asyncio.sleep(0.001 * (self.n % 4))
        self.sent.append(text)


class FakeLive:
    def __init__(self) -> None:
        from server.metrics import Metrics

        self.metrics = Metrics()
        from server import config

        self.cfg = config.load(doc={"sites": [{"key": "demo", "origins": ["https://shop.example"]}]}, env={})

    def new_conn_id(self) -> str:
        return "i.1"


def test_messages_to_one_socket_leave_in_order() -> None:
    async def scenario() -> list[int]:
        ws = FakeSocket()
        conn = Conn(ws, FakeLive())  # type: ignore[arg-type]
        for n in range(20):
            conn.push(wire.Disarm(str(n)))  # decided by timers and other tasks
            if n % 5 == 0:
                await conn.send(wire.Ack(str(n + 0.5)))  # the socket's own answers in between
        while conn._busy:
            await asyncio.sleep(0.005)
        import orjson

        return [float(orjson.loads(x).get("cid") or orjson.loads(x).get("id")) for x in ws.sent]

    got = run_async(scenario)
    assert got == sorted(got) and len(got) == 24


def test_local_timers_fire_in_order_and_skip_cancelled_or_moved_ones() -> None:
    async def scenario() -> list[tuple[str, str]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, str]] = []
        timers = LocalTimers(lambda sid, kind: fired.append((sid, kind)), loop.time)
        now = loop.time()
        timers.schedule("s1", "camp", now + 0.03)
        timers.schedule("s2", "idle", now + 0.01)
        timers.schedule("s3", "camp", now + 0.02)
        timers.cancel("s3", "camp")
        timers.schedule("s1", "idle", now + 0.04)
        timers.schedule("s1", "camp", now + 0.05)  # moved later: fires once, at the new time
        timers.schedule("s4", "camp", now + 0.02)
        timers.drop("s4")
        await asyncio.sleep(0.1)
        return fired

    assert run_async(scenario) == [("s2", "idle"), ("s1", "idle"), ("s1", "camp")]


def test_a_failing_timer_does_not_stop_the_others() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        fired: list[str] = []

        def fire(sid: str, kind: str) -> Any:
            if sid == "bad":
                raise ValueError("boom")
            fired.append(sid)

        timers = LocalTimers(fire, loop.time)
        timers.schedule("bad", "camp", loop.time())
        timers.schedule("good", "camp", loop.time() + 0.01)
        await asyncio.sleep(0.05)
        return fired

    assert run_async(scenario) == ["good"]


def test_ipv6_clients_count_per_64() -> None:
    from types import SimpleNamespace

    from server.ws import client_ip

    def ip(host: str) -> str:
        return client_ip(SimpleNamespace(client=SimpleNamespace(host=host)))  # type: ignore[arg-type]

    assert ip("2001:db8:1:2:aaaa::1") == ip("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert ip("2001:db8:1:3::1") != ip("2001:db8:1:2::1")
    assert ip("203.0.113.7") == "203.0.113.7"


def test_ipv4_mapped_addresses_count_as_ipv4() -> None:
    from types import SimpleNamespace

    from server.ws import client_ip

    def ip(host: str) -> str:
        return client_ip(SimpleNamespace(client=SimpleNamespace(host=host)))  # type: ignore[arg-type]

    assert ip("::ffff:203.0.113.7") == "203.0.113.7" and ip("::ffff:198.51.100.1") == "198.51.100.1"
