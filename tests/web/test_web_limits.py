"""Pure parts of the web app: client address, rate limits, the chart, section health."""

from __future__ import annotations

import threading

from newsletter.service.preview import SectionHealth
from newsletter.web.charts import bar_chart
from newsletter.web.limits import RequestRateLimiter, client_ip, rate_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_sliding_window() -> None:
    clock = Clock()
    limiter = RequestRateLimiter(3, window=3600, clock=clock)
    assert [limiter.hit("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b")  # each key has its own budget
    clock.now += 1800
    assert not limiter.hit("a")  # refused hits are not counted, but the window has not passed
    clock.now += 1800.5
    assert [limiter.hit("a") for _ in range(4)] == [True, True, True, False]


def test_rate_limiter_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RequestRateLimiter(1, window=60, clock=clock, max_keys=100)
    for n in range(1000):
        limiter.hit(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100
    assert limiter.hit("10.0.0.0")  # forgotten, so allowed again (the newest were kept)
    assert not limiter.hit("10.0.3.231")


def test_rate_limiter_is_thread_safe() -> None:
    limiter = RequestRateLimiter(500)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            result = limiter.hit("same")
            with lock:
                allowed.append(result)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 500 and len(allowed) == 800


def test_client_ip() -> None:
    assert client_ip("192.0.2.1", "203.0.113.5", trust_proxy=False) == "192.0.2.1"
    assert client_ip("127.0.0.1", "1.2.3.4, 203.0.113.5", trust_proxy=True) == "203.0.113.5"
    assert client_ip("127.0.0.1", "203.0.113.5, junk", trust_proxy=True) == "203.0.113.5"
    assert client_ip("127.0.0.1", "junk, <script>", trust_proxy=True) == "127.0.0.1"
    assert client_ip("127.0.0.1", "2001:DB8::1", trust_proxy=True) == "2001:db8::1"
    assert client_ip(None, None, trust_proxy=True) == "unknown"


def test_rate_key_groups_ipv6_by_64() -> None:
    assert (
        rate_key("2001:db8:1:2:aaaa::1") == rate_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    )
    assert rate_key("2001:db8:1:3::1") != rate_key("2001:db8:1:2::1")
    assert rate_key("::ffff:203.0.113.5") == "203.0.113.5"
    assert rate_key("203.0.113.5") == "203.0.113.5" and rate_key("testclient") == "testclient"


def test_bar_chart_geometry() -> None:
    assert bar_chart([]) is None
    chart = bar_chart([("11-20", 4), ("11-21", 0), ("11-22", 2), ("x", -3)], width=400, height=100)
    assert chart is not None and chart.total == 6
    tallest, empty, half, negative = chart.bars
    assert tallest.y == 100 - 18 - (100 - 18 - 14) and tallest.height == 68
    assert empty.height == 0 and negative.value == 0 and negative.height == 0
    assert half.height == 34
    assert all(b.x >= 0 and b.x + b.width <= 400 for b in chart.bars)
    assert (
        tallest.x < empty.x < half.x < negative.x
        and tallest.center == tallest.x + tallest.width / 2
    )


def test_section_health() -> None:
    assert SectionHealth("a", "A", 0, 0).is_empty and SectionHealth("a", "A", 0, 0).is_thin
    assert SectionHealth("a", "A", 1, 4).is_thin and not SectionHealth("a", "A", 1, 4).is_empty
    assert not SectionHealth("a", "A", 2, 2).is_thin
