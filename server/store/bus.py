"""Pub/sub between instances: a registry of channel -> handler, one subscription for all of them,
resubscribed after errors. Handlers get the message already decoded (JSON, or text)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..health import Health

Handler = Callable[[Any], Awaitable[None]]


class Bus:
    def __init__(self, r: aioredis.Redis, health: Health) -> None:
        self.r, self.health = r, health
        self._handlers: dict[str, tuple[Handler, bool]] = {}

    def on(self, channel: str, handler: Handler, json: bool = True) -> None:
        """Call `handler` with each message on `channel` (parsed as JSON unless `json` is False)."""
        self._handlers[channel] = (handler, json)

    async def publish(self, channel: str, msg: Any) -> None:
        await self.r.publish(channel, msg if isinstance(msg, (str, bytes)) else orjson.dumps(msg))

    async def run(self) -> None:
        """Deliver messages until cancelled."""
        while True:
            pubsub = self.r.pubsub()
            try:
                await pubsub.subscribe(*self._handlers)
                self.health.ok("redis pub/sub")
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    entry = self._handlers.get(msg["channel"].decode())
                    if entry is not None:
                        handler, json = entry
                        await handler(orjson.loads(msg["data"]) if json else msg["data"].decode())
            except (RedisError, OSError) as e:
                self.health.fail("redis pub/sub", e)
                await asyncio.sleep(0.5)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass
