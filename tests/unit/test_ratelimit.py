from server.core.ratelimit import TokenBucket


def test_burst_then_sustained_rate() -> None:
    b = TokenBucket(rate=10, burst=5)
    assert [b.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert b.take(0.05) is False  # half a token
    assert b.take(0.1) is True  # one token back after 100 ms
    assert b.take(0.1) is False
    assert sum(b.take(10.0) for _ in range(10)) == 5  # refills only up to the burst


def test_per_address_sockets_and_rates() -> None:
    from server.core.ratelimit import PerAddress

    lim = PerAddress(sockets_max=2, rates={"visitor": PerAddress.per_minute(3), "lead": PerAddress.per_hour(1)})
    assert lim.open_socket("a") and lim.open_socket("a") and not lim.open_socket("a")
    assert lim.open_socket("b")  # another address has its own count
    lim.close_socket("a")
    assert lim.open_socket("a")
    assert [lim.allow("visitor", "a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert lim.allow("visitor", "a", 20.0)  # a minute refills 3: 20 s refills one
    assert not lim.allow("visitor", "a", 20.0)
    assert lim.allow("lead", "a", 0.0) and not lim.allow("lead", "a", 60.0) and lim.allow("lead", "a", 3600.0)
    assert lim.allow("unlimited", "a", 0.0)
    lim.prune(100_000.0)
    assert lim.buckets == {}  # full buckets are forgotten: memory is bounded by recent addresses
    off = PerAddress(sockets_max=0, rates={"visitor": PerAddress.per_minute(0)})
    assert all(off.open_socket("x") for _ in range(1000)) and all(off.allow("visitor", "x", 0) for _ in range(1000))
