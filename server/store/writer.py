"""Group commit of hot-path writes on one dedicated connection, with true fsync acks.

Everything queued while one batch is in flight goes out in the next one:
`MULTI`, the session blobs (coalesced per key, serialized once per batch), the queued commands,
`EXEC`, and, when a caller waits for durability, `WAITAOF 1 0 <ms>`, all pipelined on the *same*
connection. WAITAOF only covers writes made on its own connection, so the writer never lends its
connection to anyone and never lets the client library retry a batch on another one.

Durability: a waiter of `commit(durable=True)` is resolved only when WAITAOF answers with at
least one local fsync. A timeout (0 fsyncs), an error, or a dropped connection gives the
waiters `WriteFailed`, so their clients keep the message and resend it.

Applied once: the effects of a client message with an id are queued inside `guarded()`. They go
out as one Lua script that first claims the id (`ZADD NX` into the visitor's applied ids) and runs the effects only if
the claim is new, inside the batch's MULTI. A batch that failed is requeued whole; every command
outside a guard is idempotent (SET, HSET, ZADD, SADD, EXPIRE, ZREM, ...), and a guard whose id was
claimed meanwhile (by this batch's first try, or by another instance) runs nothing. So a retried
batch, or a resend of the same id, can never apply a message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio.connection import Connection, ConnectionPool
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger("linger.store")

RETRY_DELAY = 0.2
MAX_BACKLOG = 500_000  # queued commands beyond which unguarded ones are dropped (guards never are)
FSYNC_TIMEOUT_MS = 2000

# The claim and the effects in one step. #!lua makes the server check memory (OOM) and
# read-only state before running it, so a full or read-only server refuses it whole.
GUARD = """#!lua
if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[1], ARGV[3])
local k, a = 2, 4
while a <= #ARGV do
  local name, nk, na = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local args = {}
  for _ = 1, nk do args[#args + 1] = KEYS[k]; k = k + 1 end
  for _ = 1, na do args[#args + 1] = ARGV[a]; a = a + 1 end
  redis.call(name, unpack(args))
end
return 1
"""


class WriteFailed(RedisError):
    """Redis did not store a batch (refused, full, read-only) or did not fsync it in time."""


class NotFsynced(WriteFailed):
    """The batch was stored, but no fsync was seen in time: its waiters are not acked."""


Cmd = tuple[int, tuple[Any, ...]]  # (how many of the arguments after the name are keys, (name, *args))


@dataclass(slots=True)
class Guard:
    done_key: str  # sorted set of applied ids -> when; entries older than `keep` seconds are dropped
    mid: str
    now: float
    keep: int
    cmds: list[Cmd] = field(default_factory=list)

    def command(self) -> tuple[Any, ...]:
        keys: list[Any] = [self.done_key]
        argv: list[Any] = [self.mid, repr(self.now), self.keep]
        for nkeys, (name, *args) in self.cmds:
            keys += args[:nkeys]
            rest = args[nkeys:]
            argv += [name, nkeys, len(rest), *rest]
        return ("EVAL", GUARD, len(keys), *keys, *argv)


class Writer:
    def __init__(self, url: str, durable_acks: bool, fsync_key: str,
                 on_state: Callable[[bool, str], None] | None = None) -> None:
        self._fsync_key = fsync_key
        self._pool = ConnectionPool.from_url(url, max_connections=1, socket_timeout=10.0, socket_connect_timeout=5)
        self._conn: Connection | None = None
        self.durable_acks = durable_acks
        self.aof_unknown = True  # set False once the server said appendonly yes (CONFIG GET at start)
        self._blobs: dict[str, tuple[Any, int]] = {}
        self._cmds: list[Cmd | Guard] = []
        self._guard: Guard | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._durable = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._on_state = on_state or (lambda up, why: None)
        self.batches = 0
        self._gen = 0  # flush attempts so far; what is queued now goes out with attempt _gen + 1
        self.stored_gen = 0  # the last attempt that reached Redis: everything queued up to it is stored
        self.failing = False
        self.not_fsyncing = False  # the last durable batch got no fsync in time (no acks until one does)
        self.duplicates = 0  # guards whose id was already claimed when they ran

    # ------------------------------------------------------------ queueing

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="linger-writer")

    def blob(self, key: str, value: Any, ttl: int) -> None:
        """Queue SET key (JSON of value) EX ttl. A live object is serialized at flush time, once per
        batch however often it changed, so it is stored as it is when the batch goes out."""
        self._blobs[key] = (value, ttl)
        self._wake.set()

    def cmd(self, *args: Any, keys: int = 1) -> None:
        """Queue one idempotent command; `keys` says how many arguments after its name are keys."""
        if self._guard is not None:
            self._guard.cmds.append((keys, args))
        else:
            self._cmds.append((keys, args))
        self._wake.set()

    @contextlib.contextmanager
    def guarded(self, done_key: str, mid: str, now: float, keep: int) -> Iterator[None]:
        """Commands queued in this block run only if `mid` is not yet in the sorted set `done_key`,
        and claim it in the same step (remembered `keep` seconds). Nothing in the block may await."""
        if self._guard is not None:
            raise RuntimeError("guards do not nest")
        self._guard = Guard(done_key, mid, now, keep)
        try:
            yield
        except BaseException:
            self._guard = None  # half-queued effects are not written
            raise
        guard, self._guard = self._guard, None
        self._cmds.append(guard)
        self._wake.set()

    @property
    def in_guard(self) -> bool:
        return self._guard is not None

    def commit(self, durable: bool = False) -> asyncio.Future[None]:
        """A future that resolves once everything queued so far is stored (and fsynced if durable),
        or fails with a RedisError."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._durable = self._durable or durable
        self._wake.set()
        return fut

    @property
    def pending(self) -> bool:
        return bool(self._blobs or self._cmds or self._waiters)

    @property
    def next_gen(self) -> int:
        """The flush attempt that will carry what is queued now; once `stored_gen` reaches it, it is stored."""
        return self._gen + 1

    @property
    def backlog(self) -> int:
        return len(self._cmds) + len(self._blobs)

    # ------------------------------------------------------------ the batch

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = await self._pool.get_connection()
        return self._conn

    async def _exchange(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send every command in one write and read every reply, in order, on the one connection.
        Error replies come back as ResponseError values; a broken connection raises."""
        conn = await self._connection()
        try:
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            out: list[Any] = []
            for _ in commands:
                try:
                    out.append(await conn.read_response())
                except ResponseError as e:
                    out.append(e)
            return out
        except BaseException:
            await conn.disconnect(nowait=True)  # the outcome is unknown: the next batch starts clean
            raise

    async def flush(self) -> None:
        if not self.pending:
            return
        blobs, cmds, waiters, durable = self._blobs, self._cmds, self._waiters, self._durable
        self._blobs, self._cmds, self._waiters, self._durable = {}, [], [], False
        self._gen += 1
        gen = self._gen
        wait_fsync = durable and self.durable_acks
        body: list[tuple[Any, ...]] = [("SET", key, orjson.dumps(value), "EX", ttl) for key, (value, ttl) in
                                       blobs.items()]
        body += [c.command() if isinstance(c, Guard) else c[1] for c in cmds]
        if wait_fsync:
            # WAITAOF waits for this connection's writes; this one lands after anything the caller
            # read before committing (say, an id another instance claimed), so its fsync covers that too
            body.append(("INCR", self._fsync_key))
        tail = [("WAITAOF", 1, 0, FSYNC_TIMEOUT_MS)] if wait_fsync else []
        try:
            replies = await self._exchange([("MULTI",), *body, ("EXEC",), *tail])
            tags: list[Cmd | Guard | None] = [None] * len(blobs) + list(cmds)
            tags += [None] * (len(body) - len(tags))
            self._check(replies, len(body), tags, wait_fsync)
        except NotFsynced as e:  # stored, so nothing to requeue; the waiters' clients will resend
            self.stored_gen = gen
            if not self.not_fsyncing:
                self.not_fsyncing = True
                self._on_state(False, f"acks withheld: {e}")
            self._fail_waiters(waiters, e)
            return
        except (RedisError, OSError) as e:
            self._failed(e, blobs, cmds, waiters)
            await asyncio.sleep(RETRY_DELAY)
            self._wake.set()
            return
        self.batches += 1
        self.stored_gen = gen
        if self.failing or (self.not_fsyncing and wait_fsync):
            self.failing = False
            self.not_fsyncing = False
            self._on_state(True, "writes stored again")
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _check(self, replies: list[Any], n: int, tags: list[Cmd | Guard | None], wait_fsync: bool) -> None:
        """Raise unless the transaction ran and, if asked, WAITAOF saw a local fsync."""
        exec_reply = replies[1 + n]
        if isinstance(exec_reply, ResponseError) or not isinstance(exec_reply, list):
            queued = next((r for r in replies[1:1 + n] if isinstance(r, ResponseError)), exec_reply)
            raise WriteFailed(f"transaction refused: {queued}")
        for c, r in zip(tags, exec_reply, strict=True):
            if isinstance(r, ResponseError):  # ran, but one command failed: others stand (no rollback)
                log.error("a stored write failed inside a batch: %s", r)
            elif isinstance(c, Guard) and r == 0:
                self.duplicates += 1
        if not wait_fsync:
            return
        aof = replies[2 + n]
        if isinstance(aof, ResponseError):
            if "appendonly" in str(aof).lower() and self.aof_unknown:
                # a server that refused CONFIG turns out to run without an append-only file
                log.warning("WAITAOF refused (%s): the server has no append-only file, so acks now follow "
                            "the write, not an fsync (see redis.durable_acks)", aof)
                self.durable_acks = False
                return
            raise NotFsynced(f"WAITAOF failed: {aof}")  # e.g. appendonly switched off at run time: no ack
        if not isinstance(aof, list) or not aof or int(aof[0]) < 1:
            raise NotFsynced(f"no local fsync within {FSYNC_TIMEOUT_MS} ms (WAITAOF answered {aof!r})")

    def _failed(self, e: Exception, blobs: dict[str, tuple[Any, int]], cmds: list[Cmd | Guard],
                waiters: list[asyncio.Future[None]]) -> None:
        """Keep the writes for the next batch (newer blobs win); tell waiting callers now."""
        if not self.failing:
            self.failing = True
            self._on_state(False, f"writes failing: {e}")
        self._blobs = {**blobs, **self._blobs}
        merged = cmds + self._cmds
        if len(merged) > MAX_BACKLOG:
            kept = [c for c in merged if isinstance(c, Guard)]
            log.error("redis writes failing: dropped %d queued unguarded writes (backlog over %d)",
                      len(merged) - len(kept), MAX_BACKLOG)
            merged = kept
        self._cmds = merged
        self._fail_waiters(waiters, e)

    @staticmethod
    def _fail_waiters(waiters: list[asyncio.Future[None]], e: Exception) -> None:
        for w in waiters:
            if not w.done():
                w.set_exception(e if isinstance(e, RedisError) else WriteFailed(str(e)))

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self.flush()
        await self._pool.aclose()
