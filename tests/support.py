"""Test support: run the real server in a subprocess with its own config and embedded Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import tomli_w
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
FAST = {
    "timing": {"session_timeout_s": 3, "leave_grace_s": 0.6, "idle_after_ms": 400, "act_every_ms": 100,
               "timer_tick_ms": 20},
    "exit": {"min_dwell_ms": 200, "delay_ms": 0},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(doc: dict[str, Any]) -> str:
    return tomli_w.dumps(doc)


class Server:
    def __init__(self, tmp: Path, overrides: dict[str, Any] | None = None, port: int | None = None,
                 site: dict[str, Any] | None = None, more_sites: list[dict[str, Any]] | None = None,
                 keys: Path | None = None):
        self.tmp = tmp
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        doc: dict[str, Any] = {
            # instances of one test share the VAPID key and the link secret, as a deployment must
            "server": {"host": "127.0.0.1", "port": self.port, "data_dir": str(tmp / "var"),
                       "log_level": "warning", "drain_s": 2, "secret_file": str((keys or tmp.parent) / "secret.key")},
            "push": {"vapid_key_file": str((keys or tmp.parent) / "vapid.pem")},
            "api": {"tokens": [{"token": TOKEN, "sites": ["*"], "name": "tests"}]},
            "sites": [{"key": "demo", "name": "Demo", "origins": [self.origin, f"http://localhost:{self.port}",
                                                                  "https://shop.example"],
                       **(site or {})}],
        }
        doc["sites"] += more_sites or []
        tmp.mkdir(parents=True, exist_ok=True)
        for section, body in (overrides or {}).items():
            doc.setdefault(section, {}).update(body)
        self.config = tmp / "config.toml"
        self.config.write_text(_toml(doc))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "server.log"

    @property
    def url(self) -> str:
        return self.origin

    def start(self, timeout: float = 20) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINGER_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "server", "run", "--config", str(self.config)],
                                         cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not come up: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # --------------------------------------------------------- clients

    def ws(self, origin: str | None = None, site: str = "demo") -> ClientConnection:
        return connect(f"ws://127.0.0.1:{self.port}/ws?site={site}&v=1", origin=origin or self.origin,  # type: ignore[arg-type]
                       open_timeout=5, max_size=2**20, legacy=True)

    def api(self, path: str, token: str = TOKEN) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"authorization": f"Bearer {token}"}, timeout=5)

    def session(self, sid: str, site: str = "demo") -> dict[str, Any]:
        r = self.api(f"/api/v1/sessions/{sid}?site={site}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def wait_session(self, sid: str, pred: Any, timeout: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.session(sid)
            if pred(last):
                return last
            time.sleep(0.03)
        raise AssertionError(f"session never matched; last seen: {last}")


def hello(vid: str | None = None, sid: str | None = None, url: str = "https://shop.example/p/42",
          kind: str = "product", ref: str = "", **extra: Any) -> dict[str, Any]:
    return {"t": "hello", "v": 1, "vid": vid, "sid": sid,
            "page": {"url": url, "title": "Red shoe", "ref": ref, "kind": kind},
            "screen": {"w": 1280, "h": 800, "touch": False}, "lang": "en", "tz": "Europe/Warsaw",
            "gpc": False, "push": "default", **extra}


def send(ws: ClientConnection, msg: Any) -> None:
    ws.send(msg if isinstance(msg, str) else orjson.dumps(msg).decode())


def recv(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return orjson.loads(ws.recv(timeout=timeout))  # type: ignore[no-any-return]


def open_session(server: Server, **kw: Any) -> tuple[ClientConnection, dict[str, Any]]:
    ws = server.ws()
    send(ws, hello(**kw))
    ready = recv(ws)
    assert ready["t"] == "ready", ready
    return ws, ready


def call(srv: Server, method: str, path: str, body: Any = None, token: str = TOKEN) -> httpx.Response:
    """An API call with a bearer token (JSON body if given)."""
    return httpx.request(method, f"{srv.url}{path}", json=body, timeout=5,
                         headers={"authorization": f"Bearer {token}"})


def next_msg(ws: ClientConnection, t: str, timeout: float = 5) -> dict[str, Any]:
    """The next message of type `t`, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        msg = recv(ws, timeout=max(0.01, deadline - time.monotonic()))
        if msg["t"] == t:
            return msg


FORM_POPUP = {"id": "signup", "name": "Signup", "kind": "welcome", "status": "live", "trigger": {"delay_s": 0},
              "frequency": {"per": "page"},
              "variants": [{"content": {"headline": "Join", "form": {"email": True, "consent_label": "Offers"}}}]}


def show_form(srv: Server, ws: ClientConnection, mid: str = "shown-1") -> dict[str, Any]:
    """Wait for the form popup (FORM_POPUP, created on srv) and report it shown, as the widget does."""
    popup = next_msg(ws, "popup")
    send(ws, {"t": "popup", "id": mid, "cid": popup["cid"], "var": popup["var"], "ev": "shown"})
    assert next_msg(ws, "ack") == {"t": "ack", "id": mid}
    return popup


class Valkey:
    """A Redis-compatible server of the test's own (the valkey binary Linger embeds), on a TCP port,
    with any extra server arguments: a stand-in for an operator's or a managed Redis."""

    def __init__(self, tmp: Path, *args: str, password: str = "") -> None:
        from server.embedded import find_binary

        self.dir = tmp
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.args = [find_binary() or "valkey-server", "--port", str(self.port), "--bind", "127.0.0.1",
                     "--dir", str(tmp), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                     "--logfile", str(tmp / "valkey.log"), *args]
        if password:
            self.args += ["--requirepass", password]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> Valkey:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("valkey did not start")

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def embedded_client(srv: Server) -> Any:
    """A sync client on a test server's embedded valkey (its unix socket)."""
    import redis

    return redis.Redis.from_url(f"unix://{srv.tmp / 'var' / 'redis' / 'redis.sock'}")


def wait_for(pred: Any, timeout: float = 5, every: float = 0.02) -> Any:
    """Poll until pred() is truthy; returns its value, or fails naming the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


def run_async(make: Any) -> Any:
    """asyncio.run(make()) in a thread of its own: Playwright's sync API may be running an event loop
    in this one (the browser fixture lives for the whole session)."""
    import asyncio
    import threading

    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(make())
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


class DelayProxy:
    """A TCP proxy that holds every chunk `delay` seconds each way: a Redis far away, for one instance."""

    def __init__(self, target_port: int, delay: float) -> None:
        import threading

        self.delay, self.target = delay, target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self.sock.close()
