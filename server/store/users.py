"""People who use the admin and the ops console: accounts (argon2id hashes, never passwords),
server-side login sessions that expire after inactivity, failed-login counters, and the audit log."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from .keys import Keys

AUDIT_KEEP = 10_000  # entries per site
_DECR_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0"


class Users:
    def __init__(self, r: aioredis.Redis, keys: Keys) -> None:
        self.r, self.k = r, keys

    # ------------------------------------------------------------ accounts

    async def get(self, email: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.k.user(email))
        return orjson.loads(raw) if raw else None

    async def put(self, user: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k.user(user["email"]), orjson.dumps(user))
        pipe.sadd(self.k.users, user["email"])
        await pipe.execute()

    async def add_if_new(self, user: dict[str, Any]) -> bool:
        if not await self.r.set(self.k.user(user["email"]), orjson.dumps(user), nx=True):
            return False
        await self.r.sadd(self.k.users, user["email"])
        return True

    async def delete(self, email: str) -> bool:
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.k.user(email))
        pipe.srem(self.k.users, email)
        gone, _ = await pipe.execute()
        return bool(gone)

    async def all(self) -> list[dict[str, Any]]:
        emails = sorted(x.decode() for x in await self.r.smembers(self.k.users))
        raws = await self.r.mget([self.k.user(e) for e in emails]) if emails else []
        return [orjson.loads(x) for x in raws if x]

    # ------------------------------------------------------------ login sessions

    async def open_session(self, sid: str, data: dict[str, Any], idle_s: int) -> None:
        await self.r.set(self.k.admin_session(sid), orjson.dumps(data), ex=idle_s)

    async def session(self, sid: str, idle_s: int) -> dict[str, Any] | None:
        """The login session, its inactivity clock restarted; None once it expired or was closed."""
        raw = await self.r.getex(self.k.admin_session(sid), ex=idle_s)
        return orjson.loads(raw) if raw else None

    async def close_session(self, sid: str) -> None:
        await self.r.delete(self.k.admin_session(sid))

    # ------------------------------------------------------------ failed logins

    async def attempt(self, window_s: int, *names: str) -> list[int]:
        """Count a sign-in attempt against each name before its password is checked; the counts now."""
        pipe = self.r.pipeline(transaction=True)
        for n in names:
            pipe.incr(self.k.login_failures(n))
            pipe.expire(self.k.login_failures(n), window_s, nx=True)
        out = await pipe.execute()
        return [int(x) for x in out[0::2]]

    async def succeeded(self, account: str, address: str) -> None:
        """The attempt was right: the account starts afresh, the address gets its one count back."""
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.k.login_failures(account))
        pipe.eval(_DECR_IF_EXISTS, 1, self.k.login_failures(address))  # never a key without its expiry
        await pipe.execute()

    async def lock_ends_in(self, name: str) -> int:
        return max(0, int(await self.r.ttl(self.k.login_failures(name))))

    # ------------------------------------------------------------ API tokens made in the admin

    async def add_token(self, digest: str, data: dict[str, Any]) -> None:
        await self.r.hset(self.k.api_tokens, digest, orjson.dumps(data))

    async def token(self, digest: str) -> dict[str, Any] | None:
        raw = await self.r.hget(self.k.api_tokens, digest)
        return orjson.loads(raw) if raw else None

    async def tokens(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): orjson.loads(v) for k, v in (await self.r.hgetall(self.k.api_tokens)).items()}

    async def revoke_token(self, digest: str) -> bool:
        return bool(await self.r.hdel(self.k.api_tokens, digest))

    # ------------------------------------------------------------ audit log

    async def audit(self, site: str, entry: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.lpush(self.k.audit(site), orjson.dumps(entry))
        pipe.ltrim(self.k.audit(site), 0, AUDIT_KEEP - 1)
        await pipe.execute()

    async def audit_log(self, site: str, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in await self.r.lrange(self.k.audit(site), offset, offset + limit - 1)]
