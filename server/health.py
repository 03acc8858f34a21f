"""Health of the parts that can fail (Redis, the embedded server, background loops), logged once
per change of state instead of once per failed attempt, and summed up for /healthz."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("linger.health")


class Health:
    def __init__(self) -> None:
        self._down: dict[str, tuple[float, str]] = {}  # part -> (since, why)
        self.healthy_since: float | None = time.monotonic()  # when every part was last all up

    def ok(self, part: str) -> None:
        """`part` works (again). Logs one line if it was down."""
        was = self._down.pop(part, None)
        if was is not None:
            log.warning("%s recovered after %.1f s", part, time.monotonic() - was[0])
            if not self._down:
                self.healthy_since = time.monotonic()

    def fail(self, part: str, why: object) -> None:
        """`part` failed. Logs one line when it goes down, not on every failed attempt."""
        if part not in self._down:
            self._down[part] = (time.monotonic(), str(why)[:300])
            self.healthy_since = None
            log.error("%s is failing: %s", part, why)

    def up(self, part: str) -> bool:
        return part not in self._down

    def healthy_for(self) -> float:
        """Seconds every part has been up without a break (0 while any is down)."""
        return 0.0 if self.healthy_since is None else time.monotonic() - self.healthy_since

    def problems(self) -> dict[str, str]:
        return {part: why for part, (_, why) in self._down.items()}
