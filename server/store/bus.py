"""Pub/sub between instances: a registry of channel -> handler, one subscription for all of them,
resubscribed after errors. Handlers get the message already decoded (JSON, or text). A message that
does not decode, or a handler that fails, is logged and skipped: it never ends the subscription
(anyone who can publish on the Redis could otherwise stop every instance hearing the others)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..health import Health

log = logging.getLogger("linger.bus")

Handler = Callable[[Any], Awaitable[None]]


class Bus:
    def __init__(self, r: aioredis.Redis, health: Health) -> None:
        self.r, self.health = r, health
        self._handlers: dict[str, tuple[Handler, bool]] = {}
        self._running = False

    def on(self, channel: str, handler: Handler, json: bool = True) -> None:
        """Call `handler` with each message on `channel` (parsed as JSON unless `json` is False).
        Register every handler before `run`."""
        if self._running:
            raise RuntimeError(f"bus: {channel!r} registered after the subscription started")
        self._handlers[channel] = (handler, json)

    async def _deliver(self, channel: str, data: bytes) -> None:
        entry = self._handlers.get(channel)
        if entry is None:
            return
        handler, json = entry
        try:
            msg = orjson.loads(data) if json else data.decode()
        except (orjson.JSONDecodeError, UnicodeDecodeError):
            log.warning("bus: a message on %s that does not decode was skipped", channel)
            return
        try:
            await handler(msg)
        except (RedisError, OSError):
            raise
        except Exception:
            log.exception("bus: the handler of %s failed on a message; it was skipped", channel)

    async def publish(self, channel: str, msg: Any) -> None:
        await self.r.publish(channel, msg if isinstance(msg, (str, bytes)) else orjson.dumps(msg))

    async def run(self) -> None:
        """Deliver messages until cancelled."""
        self._running = True
        while True:
            pubsub = self.r.pubsub()
            try:
                await pubsub.subscribe(*self._handlers)
                self.health.ok("redis pub/sub")
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    await self._deliver(msg["channel"].decode(), msg["data"])
            except (RedisError, OSError) as e:
                self.health.fail("redis pub/sub", e)
                await asyncio.sleep(0.5)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass
