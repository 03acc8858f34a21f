"""The loop every queue worker runs: fill free slots with due jobs, then sleep until a slot frees or
the poll interval passes. A Redis failure marks the worker's part unhealthy (one log line) and the
loop goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..health import Health
from ..store import StoreError


async def run_polling(fill: Callable[[], Awaitable[int]], poll_s: float, health: Health, part: str,
                      freed: asyncio.Event) -> None:
    while True:
        try:
            await fill()
            health.ok(part)
        except (StoreError, OSError) as e:
            health.fail(part, e)
        freed.clear()
        try:  # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation (shutdown)
            async with asyncio.timeout(poll_s):
                await freed.wait()
        except TimeoutError:
            pass
