"""Load simulator: N simulated shoppers speaking the widget protocol, against Linger and, in the
same run, against a bare `websockets` echo server as the baseline.

    .venv/bin/python tests/bench/shoppers.py --shoppers 2000 --hold 20 --rate 2000

Phases, each run against Linger and then the baseline with the same numbers:
  1. connect N shoppers (hello/ready for Linger), hold them all open;
  2. journeys at an offered total rate (browse, cart, act, tab switch, purchase with id, leave and
     come back): achieved events/s and purchase->ack latency;
  3. saturation: `--blasters` sockets send windows of events as fast as they are taken, each
     window ending in a purchase whose ack proves the whole window was stored: peak events/s.
Memory is the server process's RSS growth while holding the N connections, divided by N.
Only loopback addresses are used; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
ECHO = """
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=8192, compression=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""
PAGES = [("home", "/"), ("category", "/c/shoes"), ("product", "/p/42"), ("product", "/p/43"),
         ("cart", "/cart"), ("checkout", "/checkout")]
CART = {"t": "cart", "items": [{"id": "42", "name": "Red runner", "price": 89.0, "qty": 1}], "total": 89.0,
        "currency": "EUR"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


@dataclass
class Result:
    name: str
    connected: int = 0
    failed: int = 0
    errors: int = 0
    rss_idle_kib: int = 0
    rss_held_kib: int = 0
    journey_events: int = 0
    journey_secs: float = 0.0
    peak_events: int = 0
    peak_secs: float = 0.0
    client_latencies: list[float] = field(default_factory=list)  # as seen by the loaded client
    probe: list[float] = field(default_factory=list)  # from a separate, unloaded probe process

    @property
    def per_conn_kib(self) -> float:
        return (self.rss_held_kib - self.rss_idle_kib) / max(1, self.connected)

    @property
    def journey_rate(self) -> float:
        return self.journey_events / max(1e-9, self.journey_secs)

    @property
    def peak_rate(self) -> float:
        return self.peak_events / max(1e-9, self.peak_secs)


class Target:
    """A server under test: Linger (protocol with acks) or the echo baseline (every frame comes back)."""

    def __init__(self, name: str, linger: bool, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.name, self.linger, self.port, self.proc = name, linger, port, proc
        self.url = f"ws://127.0.0.1:{port}/ws?site=bench&v=1" if linger else f"ws://127.0.0.1:{port}/"
        self.origin = f"http://127.0.0.1:{port}"
        self.seq = itertools.count()

    async def open(self) -> ClientConnection:
        ws = await connect(self.url, origin=self.origin, max_size=2**16, compression=None,  # type: ignore[arg-type]
                           ping_interval=None, open_timeout=30)
        page = random.choice(PAGES)
        await ws.send(orjson.dumps({"t": "hello", "v": 1, "vid": None, "sid": None,
                                    "page": {"url": f"https://shop.example{page[1]}", "kind": page[0]},
                                    "screen": {"w": 1280, "h": 800, "touch": False}}).decode())
        await ws.recv()  # ready (or the echoed hello)
        return ws

    async def purchase(self, ws: ClientConnection) -> float:
        """Send a purchase with an id; return seconds until its ack (or its echo)."""
        mid = f"b{next(self.seq)}"
        t0 = time.perf_counter()
        await ws.send(orjson.dumps({"t": "purchase", "id": mid, "order": mid, "total": 89.0,
                                    "currency": "EUR"}).decode())
        while True:
            msg = orjson.loads(await asyncio.wait_for(ws.recv(), 15))
            if msg.get("id") == mid:
                return time.perf_counter() - t0
            if msg.get("t") == "error" and msg.get("ref") == mid:
                raise RuntimeError(f"purchase {mid} refused: {msg}")

    async def events(self, ws: ClientConnection, frames: list[bytes]) -> None:
        """Send frames; for the baseline, also read their echoes (the same work per frame)."""
        for f in frames:
            await ws.send(f.decode())
        if not self.linger:
            for _ in frames:
                await ws.recv()


def journey_frames(rng: random.Random) -> list[bytes]:
    step = rng.random()
    if step < 0.35:
        return [orjson.dumps({"t": "act"})]
    if step < 0.6:
        kind, path = rng.choice(PAGES)
        return [orjson.dumps({"t": "page", "page": {"url": f"https://shop.example{path}", "kind": kind}})]
    if step < 0.75:
        return [orjson.dumps(CART)]
    if step < 0.9:
        return [orjson.dumps({"t": "vis", "state": "hidden"}), orjson.dumps({"t": "vis", "state": "visible"})]
    return [orjson.dumps({"t": "exit", "how": "mouse"})]


async def probe(url: str, origin: str, linger: bool, seconds: float) -> None:
    """Runs in its own process: one shopper sending a purchase every 20 ms; prints latencies as JSON."""
    t = Target("probe", linger, 0, None)  # type: ignore[arg-type]
    t.url, t.origin = url, origin
    ws = await t.open()
    lat: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        lat.append(await t.purchase(ws))
        await asyncio.sleep(0.02)
    await ws.close()
    print(orjson.dumps(lat).decode())


async def start_probe(t: Target, seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", t.url, t.origin, "1" if t.linger else "0", str(seconds),
        stdout=asyncio.subprocess.PIPE)


async def run_target(t: Target, args: argparse.Namespace) -> Result:
    res = Result(t.name)
    await asyncio.sleep(0.5)
    res.rss_idle_kib = rss_kib(t.proc.pid)
    conns: list[ClientConnection] = []
    sem = asyncio.Semaphore(200)

    async def one() -> None:
        async with sem:
            try:
                conns.append(await t.open())
            except Exception as e:  # noqa: BLE001 - any failure is counted and reported
                res.failed += 1
                if res.failed <= 3:
                    print(f"  connect failed: {e!r}", file=sys.stderr)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(args.shoppers)))
    res.connected = len(conns)
    print(f"  {t.name}: {res.connected} connected ({res.failed} failed) in {time.perf_counter() - t0:.1f}s",
          flush=True)
    await asyncio.sleep(1.0)
    res.rss_held_kib = rss_kib(t.proc.pid)

    # journeys at the offered rate, spread over every held connection
    stop = time.perf_counter() + args.hold
    per_conn_interval = len(conns) / max(1.0, args.rate)

    async def shopper(i: int, ws: ClientConnection) -> None:
        rng = random.Random(i)
        await asyncio.sleep(rng.random() * per_conn_interval)
        while time.perf_counter() < stop:
            if rng.random() < 0.05:
                res.client_latencies.append(await t.purchase(ws))
                res.journey_events += 1
            else:
                frames = journey_frames(rng)
                await t.events(ws, frames)
                res.journey_events += len(frames)
            await asyncio.sleep(per_conn_interval * (0.5 + rng.random()))

    prober = await start_probe(t, max(1.0, args.hold - 2))
    t0 = time.perf_counter()
    errors = await asyncio.gather(*(shopper(i, ws) for i, ws in enumerate(conns)), return_exceptions=True)
    res.journey_secs = time.perf_counter() - t0
    out, _ = await asyncio.wait_for(prober.communicate(), 60)
    res.probe = orjson.loads(out) if out.strip() else []
    res.errors += sum(1 for e in errors if e is not None)

    # saturation: a few sockets push windows as fast as they are stored
    blasters = conns[: args.blasters]
    window = [orjson.dumps({"t": "act"})] * (args.window - 1)
    stop = time.perf_counter() + args.peak_secs

    async def blast(ws: ClientConnection) -> None:
        while time.perf_counter() < stop:
            await t.events(ws, window)
            await t.purchase(ws)
            res.peak_events += len(window) + 1

    t0 = time.perf_counter()
    errors = await asyncio.gather(*(blast(ws) for ws in blasters), return_exceptions=True)
    res.errors += sum(1 for e in errors if e is not None)
    res.peak_secs = time.perf_counter() - t0
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    return res


def start_linger(tmp: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    cfg = tmp / "config.toml"
    cfg.write_text(f"""
[server]
port = {port}
data_dir = "{tmp / 'var'}"
log_level = "warning"
demo = false
[timing]
idle_after_ms = 3000
leave_grace_s = 2
act_every_ms = 100
[limits]
frames_per_second = 10000
frame_burst = 100000
sockets_per_ip = 0                # every simulated shopper comes from 127.0.0.1
new_visitors_per_ip_per_min = 0
new_sessions_per_ip_per_min = 0
leads_per_ip_per_hour = 0
messages_per_ip_per_min = 0
[[sites]]
key = "bench"
origins = ["http://127.0.0.1:{port}", "https://shop.example"]
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGER_")}
    with log_path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "server", "run", "--config", str(cfg)], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {proc.returncode} (keep its log with --server-log)")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"nothing listening on {port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def report(ours: Result, base: Result) -> None:
    rows = [
        ("connections held", f"{ours.connected}", f"{base.connected}", ""),
        ("shoppers that hit an error", f"{ours.errors}", f"{base.errors}", ""),
        ("server RSS per connection (KiB)", f"{ours.per_conn_kib:.1f}", f"{base.per_conn_kib:.1f}",
         f"{ours.per_conn_kib / max(0.01, base.per_conn_kib):.2f}x (target <= 1.5x)"),
        ("journey events/s (offered rate)", f"{ours.journey_rate:.0f}", f"{base.journey_rate:.0f}",
         f"{ours.journey_rate / max(1e-9, base.journey_rate):.2f}x"),
        ("peak events/s (saturated)", f"{ours.peak_rate:.0f}", f"{base.peak_rate:.0f}",
         f"{ours.peak_rate / max(1e-9, base.peak_rate):.2f}x (target >= 0.6x)"),
    ]
    for label, attr in (("probe", "probe"), ("load client", "client_latencies")):
        a, b = getattr(ours, attr), getattr(base, attr)
        for q in (0.5, 0.99):
            rows.append((f"purchase->ack p{int(q * 100)} ms ({label})", f"{pct(a, q) * 1000:.2f}",
                         f"{pct(b, q) * 1000:.2f}", f"n={len(a)}"))
    print(f"\n{'':34} {'linger':>10} {'echo':>10}  ratio")
    for name, a, b, r in rows:
        print(f"{name:34} {a:>10} {b:>10}  {r}")
    print("(linger: every event's effect persisted to valkey, group-committed; purchases acked after fsync."
          " The probe is a separate process, so its latency excludes the load client's own event-loop lag.)")


async def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--probe":
        await probe(sys.argv[2], sys.argv[3], sys.argv[4] == "1", float(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shoppers", type=int, default=2000, help="concurrent shoppers (connections)")
    ap.add_argument("--hold", type=float, default=15, help="seconds of journeys")
    ap.add_argument("--rate", type=float, default=2000, help="offered events/s over all shoppers")
    ap.add_argument("--blasters", type=int, default=50, help="sockets used for the saturation phase")
    ap.add_argument("--window", type=int, default=50, help="events per window in the saturation phase")
    ap.add_argument("--peak-secs", type=float, default=8, help="seconds of saturation")
    ap.add_argument("--server-log", help="keep the Linger server's log at this path")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.shoppers + 1000)), hard))
    with tempfile.TemporaryDirectory(prefix="linger-bench-") as d:
        tmp = Path(d)
        port = free_port()
        proc = start_linger(tmp, port, Path(args.server_log) if args.server_log else tmp / "server.log")
        try:
            await wait_port(port, proc)
            print(f"linger on :{port} (pid {proc.pid}); {args.shoppers} shoppers", flush=True)
            ours = await run_target(Target("linger", True, port, proc), args)
        finally:
            stop(proc)
        port = free_port()
        echo = subprocess.Popen([sys.executable, "-c", ECHO, str(port)], stdout=subprocess.DEVNULL)
        try:
            await wait_port(port, echo)
            print(f"echo baseline on :{port} (pid {echo.pid})", flush=True)
            base = await run_target(Target("echo", False, port, echo), args)
        finally:
            stop(echo)
    report(ours, base)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main())
