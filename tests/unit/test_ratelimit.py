from server.core.ratelimit import TokenBucket


def test_burst_then_sustained_rate() -> None:
    b = TokenBucket(rate=10, burst=5)
    assert [b.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert b.take(0.05) is False  # half a token
    assert b.take(0.1) is True  # one token back after 100 ms
    assert b.take(0.1) is False
    assert sum(b.take(10.0) for _ in range(10)) == 5  # refills only up to the burst
