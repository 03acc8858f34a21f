"""Two hostile-load measurements, each against a fresh server with its baseline in the same run:

  erase   One shop has --records purchase records from other shoppers. A probe socket sends
          purchases in a closed loop (each waits for its fsynced ack) while one lead is erased.
          Baseline: the same probe with nothing else going on. Reported: the probe's ack
          latency during the erasure (max, p99) against the baseline's.
  timers  --backlog shoppers with carts left while the server was down: their leave timers
          are all due at once. A new visitor's welcome popup is due --delay seconds after hello.
          Baseline: the same popup with no backlog. Reported: when it arrived.

    .venv/bin/python tests/bench/faults.py erase --records 300000 [--own 100000]
    .venv/bin/python tests/bench/faults.py timers --backlog 15000

Run it from another checkout to compare versions: it only uses the wire protocol, the HTTP API
and the embedded Redis's unix socket (and fills records in whichever layout it finds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token-0123456789abcdef"
WELCOME = """[[campaigns]]
id = "welcome"
name = "Welcome"
kind = "welcome"
status = "live"
trigger = {{ delay_s = {delay} }}
  [[campaigns.variants]]
  content = {{ headline = "Hi" }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text(msg: dict[str, Any]) -> str:
    return orjson.dumps(msg).decode()  # a text frame: the widget protocol has no binary frames


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


class Linger:
    """A server of this checkout in a temporary directory (either token format: old or new)."""

    def __init__(self, tmp: Path, delay: float = 1.0) -> None:
        self.tmp, self.port = tmp, free_port()
        (tmp / "camps.toml").write_text(WELCOME.format(delay=delay))
        self.proc: subprocess.Popen[bytes] | None = None
        self.delay = delay

    def _config(self, scoped_tokens: bool) -> Path:
        tokens = (f'[[api.tokens]]\ntoken = "{TOKEN}"\nsites = ["*"]\n' if scoped_tokens
                  else f'[api]\ntokens = ["{TOKEN}"]\n')
        limits = ("sockets_per_ip = 0\nnew_visitors_per_ip_per_min = 0\nnew_sessions_per_ip_per_min = 0\n"
                  "leads_per_ip_per_hour = 0\nmessages_per_ip_per_min = 0\n" if scoped_tokens else "")
        cfg = self.tmp / "config.toml"
        cfg.write_text(f"""[server]
port = {self.port}
data_dir = "{self.tmp / 'var'}"
log_level = "warning"
demo = false
[timing]
session_timeout_s = 3600
leave_grace_s = 2
[limits]
frames_per_second = 10000
frame_burst = 100000
{limits}{tokens}
[[sites]]
key = "bench"
origins = ["http://127.0.0.1:{self.port}"]
popup_gap_s = 0
seed_campaigns = "{self.tmp / 'camps.toml'}"
""")
        return cfg

    def start(self) -> Linger:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINGER_")}
        for scoped in (True, False):
            log = (self.tmp / "server.log").open("wb")
            self.proc = subprocess.Popen([sys.executable, "-m", "server", "run", "--config", str(self._config(scoped))],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            self.stop()
        raise SystemExit(f"server did not start: {(self.tmp / 'server.log').read_text()[-1500:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def redis(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(f"unix://{self.tmp / 'var' / 'redis' / 'redis.sock'}")

    async def socket(self, **hello: Any) -> tuple[ClientConnection, dict[str, Any]]:
        ws = await connect(f"ws://127.0.0.1:{self.port}/ws?site=bench&v=1", origin=f"http://127.0.0.1:{self.port}",
                           max_size=2**20)  # type: ignore[arg-type]
        page = {"url": f"http://127.0.0.1:{self.port}/p/1", "kind": "product"}
        await ws.send(text({"t": "hello", "v": 1, "vid": None, "sid": None, "page": page, **hello}))
        while True:
            msg = orjson.loads(await ws.recv())
            if msg["t"] == "ready":
                return ws, msg


async def probe(srv: Linger, seconds: float, marks: list[tuple[float, float]]) -> None:
    """Purchases in a closed loop: (sent at, ack latency) for each."""
    ws, _ = await srv.socket()
    n = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        n += 1
        t0 = time.perf_counter()
        await ws.send(text({"t": "purchase", "id": f"p{n}", "order": f"A{n}", "total": 1, "currency": "EUR"}))
        while (reply := orjson.loads(await ws.recv())).get("t") not in ("ack", "error"):
            pass
        if reply["t"] == "error":
            raise SystemExit(f"the probe's purchase was refused: {reply}")
        marks.append((t0, time.perf_counter() - t0))
    await ws.close()


async def fill_records(srv: Linger, n: int, vid: str = "") -> None:
    """n purchase records of other shoppers, or of visitor `vid` (indexed as the server would)."""
    r = srv.redis()
    key = "lg:rec:purchase:bench"
    kind = (await r.type(key)).decode()
    now = time.time()
    for start in range(0, n, 10_000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + 10_000)):
            rid = f"{'mine' if vid else 'x'}{i}"
            body = orjson.dumps({"id": rid, "order": f"X{i}", "total": 9.5, "currency": "EUR", "sid": f"s{i}",
                                 "vid": vid or f"someone-{i}", "at": now})
            if kind == "list":  # the layout before per-visitor indexes
                pipe.rpush(key, body)
            else:
                pipe.hset(key, rid, body)
                pipe.zadd("lg:recz:purchase:bench", {rid: now})
                if vid:
                    pipe.sadd(f"lg:rv:{vid}", f"purchase|bench|{rid}")
        await pipe.execute()
    await r.aclose()


async def bench_erase(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="linger-bench-") as d:
        srv = Linger(Path(d)).start()
        try:
            ws, ready = await srv.socket()  # the shopper to erase: a lead with a purchase
            await ws.send(text({"t": "email", "id": "e1", "email": "erase.me@example.com", "source": "field",
                                        "field": "email", "consent": True, "submitted": True}))
            await ws.send(text({"t": "purchase", "id": "o1", "order": "O1", "total": 5, "currency": "EUR"}))
            await asyncio.sleep(0.5)
            await ws.close()
            await fill_records(srv, args.records)
            if args.own:
                await fill_records(srv, args.own, ready["vid"])
            await asyncio.sleep(2)
            base: list[tuple[float, float]] = []  # the same probe, same data, nothing else going on
            await probe(srv, 4, base)
            during: list[tuple[float, float]] = []
            # the HTTP client is made first: building one loads certificates and would stall this
            # process's own event loop (the probe's), not the server's
            async with httpx.AsyncClient(timeout=60) as http:
                task = asyncio.create_task(probe(srv, 4, during))
                await asyncio.sleep(1)
                t0 = time.perf_counter()
                r = await http.delete(f"http://127.0.0.1:{srv.port}/api/v1/leads/erase.me@example.com?site=bench",
                                      headers={"authorization": f"Bearer {TOKEN}"})
                t1 = time.perf_counter()
            await task
        finally:
            srv.stop()
    window = [lat for sent, lat in during if sent + lat >= t0 and sent <= t1]
    b = [lat for _, lat in base]
    print(f"erase of one lead with {args.own} records of its own among {args.records} others': "
          f"HTTP {r.status_code} in {(t1 - t0) * 1000:.0f} ms")
    print(f"{'probe purchase->ack (ms)':32} {'baseline':>10} {'during erase':>13}")
    for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        print(f"{name:32} {pct(b, q) * 1000:>10.2f} {pct(window, q) * 1000:>13.2f}")
    stall = (max(window) - pct(b, 0.99)) * 1000 if window else float("nan")
    print(f"stall beyond the baseline p99: {stall:.1f} ms (n={len(window)} acks during the erase)")


async def popup_after(srv: Linger) -> float:
    ws, _ = await srv.socket(page={"url": f"http://127.0.0.1:{srv.port}/p/1", "kind": "product"})
    t0 = time.perf_counter()
    while orjson.loads(await ws.recv()).get("t") != "popup":
        pass
    took = time.perf_counter() - t0
    await ws.close()
    return took


async def bench_timers(args: argparse.Namespace) -> None:
    results = {}
    for label, backlog in (("baseline", 0), ("backlog", args.backlog)):
        with tempfile.TemporaryDirectory(prefix="linger-bench-") as d:
            srv = Linger(Path(d), delay=args.delay).start()
            try:
                r = srv.redis()
                now = time.time()
                for start in range(0, backlog, 5_000):
                    pipe = r.pipeline(transaction=False)
                    for i in range(start, min(backlog, start + 5_000)):
                        sess = {"sid": f"g{i}", "vid": f"v{i}", "site": "bench", "started": now - 100,
                                "away_since": now - 35, "sockets": {}, "cart_count": 1, "cart_total": 89.0,
                                "cart_items": [{"id": "42", "name": "Red runner", "price": 89.0, "qty": 1}]}
                        pipe.set(f"lg:s:g{i}", orjson.dumps(sess), ex=3600)
                        pipe.zadd("lg:timers", {f"leave|g{i}": now - 5})
                    await pipe.execute()
                await r.aclose()
                results[label] = await popup_after(srv)
            finally:
                srv.stop()
    print(f"welcome popup due {args.delay:g} s after hello, {args.backlog} leave timers due at once:")
    for label, took in results.items():
        print(f"  {label:9} arrived after {took:.2f} s ({took - args.delay:+.2f} s late)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["erase", "timers"])
    ap.add_argument("--records", type=int, default=300_000, help="erase: other shoppers' records in the list")
    ap.add_argument("--own", type=int, default=0, help="erase: records of the erased visitor itself")
    ap.add_argument("--backlog", type=int, default=8_000, help="timers: leave timers due at once")
    ap.add_argument("--delay", type=float, default=5.0, help="timers: the welcome popup's delay_s")
    args = ap.parse_args()
    asyncio.run(bench_erase(args) if args.what == "erase" else bench_timers(args))


if __name__ == "__main__":
    main()
