"""Token bucket for per-connection frame limits. Pure: the caller passes the time."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means the caller is over its limit."""
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class PerAddress:
    """Limits per client address: open sockets, and new visitors per minute (a token bucket per
    address, refilled at `new_per_min` a minute). 0 turns a limit off. Pure: the caller passes the
    time; `prune` forgets addresses with nothing open and a full bucket, so memory stays bounded
    by the addresses active in the last minute."""

    sockets_max: int
    new_per_min: int
    open: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def open_socket(self, ip: str) -> bool:
        n = self.open.get(ip, 0)
        if self.sockets_max and n >= self.sockets_max:
            return False
        self.open[ip] = n + 1
        return True

    def close_socket(self, ip: str) -> None:
        n = self.open.get(ip, 0) - 1
        if n > 0:
            self.open[ip] = n
        else:
            self.open.pop(ip, None)

    def new_visitor(self, ip: str, now: float) -> bool:
        if not self.new_per_min:
            return True
        bucket = self.buckets.get(ip)
        if bucket is None:
            bucket = self.buckets[ip] = TokenBucket(rate=self.new_per_min / 60.0, burst=self.new_per_min)
        return bucket.take(now)

    def prune(self, now: float) -> None:
        for ip in [ip for ip, b in self.buckets.items() if b.tokens + (now - b.at) * b.rate >= b.burst]:
            del self.buckets[ip]
