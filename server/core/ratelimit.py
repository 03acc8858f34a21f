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
    """Limits per client address: open sockets, and named rates (new visitors, new sessions, leads),
    each a token bucket per address. A rate is (tokens per second, burst); 0 turns a limit off.
    Pure: the caller passes the time; `prune` forgets addresses with nothing open and full buckets,
    so memory stays bounded by the addresses active lately."""

    sockets_max: int
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)
    open: dict[str, int] = field(default_factory=dict)
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)

    @staticmethod
    def per_minute(n: int) -> tuple[float, float]:
        return (n / 60.0, float(n))

    @staticmethod
    def per_hour(n: int) -> tuple[float, float]:
        return (n / 3600.0, float(n))

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

    def allow(self, kind: str, ip: str, now: float) -> bool:
        """Spend one of `kind` for this address; False when it has none left."""
        rate, burst = self.rates.get(kind, (0.0, 0.0))
        if not burst:
            return True
        bucket = self.buckets.get((kind, ip))
        if bucket is None:
            bucket = self.buckets[(kind, ip)] = TokenBucket(rate=rate, burst=burst)
        return bucket.take(now)

    def prune(self, now: float) -> None:
        for key in [k for k, b in self.buckets.items() if b.tokens + (now - b.at) * b.rate >= b.burst]:
            del self.buckets[key]
