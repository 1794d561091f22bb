"""Gateway metrics. The hot path only bumps plain ints and bucket counts (a prometheus-client
child costs a lock and several calls per update, which at thousands of requests a second
is a measurable share of the gateway's CPU); a collector turns them into Prometheus metric
families when /metrics is scraped. One registry per gateway, never the global default."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

# Added latency is small: resolve down to 50 µs.
ADDED_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003,
                 0.005, 0.01, 0.025, 0.05, 0.1)  # fmt: skip
UPSTREAM_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0)  # fmt: skip
ERROR_KINDS = ("connect", "reset", "timeout", "cut", "status")
_P = "inkshadow_gateway_"


class Hist:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class UpstreamStats:
    """Counters of one upstream; its in-flight count lives on the Upstream itself."""

    __slots__ = ("ejections", "errors", "latency", "retries")

    def __init__(self) -> None:
        self.latency = Hist(UPSTREAM_BUCKETS)
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.ejections = 0
        self.retries = 0


class GatewayMetrics:
    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.decisions: dict[tuple[str, str], int] = {}
        self.added_latency = Hist(ADDED_BUCKETS)
        self.upstream_stats: dict[str, UpstreamStats] = {}
        # Set by the gateway: live values read at scrape time.
        self.gauges: Callable[[], dict[str, float]] = dict
        self.upstream_gauges: Callable[[], Iterable[tuple[str, int, bool]]] = list
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def for_upstream(self, name: str) -> UpstreamStats:
        stats = self.upstream_stats.get(name)
        if stats is None:
            stats = self.upstream_stats[name] = UpstreamStats()
        return stats

    @staticmethod
    def count(table: dict[Any, int], key: Any) -> None:
        table[key] = table.get(key, 0) + 1

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- prometheus-client Collector protocol --------------------------------------------------
    def collect(self) -> Iterable[Any]:
        req = CounterMetricFamily(
            _P + "requests", "Requests answered, by status class.", labels=["code"]
        )
        for code, n in sorted(self.requests.items()):
            req.add_metric([code], n)
        yield req
        rej = CounterMetricFamily(
            _P + "rejected", "Requests refused by the gateway (429s, drain 503s), by reason.",
            labels=["reason"],
        )  # fmt: skip
        for reason, n in sorted(self.rejected.items()):
            rej.add_metric([reason], n)
        yield rej
        dec = CounterMetricFamily(
            _P + "policy_decisions", "Replica choices, by policy and how the choice was made.",
            labels=["policy", "outcome"],
        )  # fmt: skip
        for (policy, outcome), n in sorted(self.decisions.items()):
            dec.add_metric([policy, outcome], n)
        yield dec
        added = HistogramMetricFamily(
            _P + "added_latency_seconds",
            "Time the gateway itself adds to a request (total minus upstream time to head).",
        )
        added.add_metric([], self.added_latency.buckets(), self.added_latency.total)
        yield added
        for name, value in sorted(self.gauges().items()):
            yield GaugeMetricFamily(_P + name, f"Gateway {name.replace('_', ' ')}.", value=value)
        yield from self._collect_upstreams()

    def _collect_upstreams(self) -> Iterable[Any]:
        fly = GaugeMetricFamily(
            _P + "upstream_in_flight", "Requests in flight per upstream.", labels=["upstream"]
        )
        ready = GaugeMetricFamily(
            _P + "upstream_ready", "1 when the upstream may get requests.", labels=["upstream"]
        )
        for name, in_flight, ok in self.upstream_gauges():
            fly.add_metric([name], in_flight)
            ready.add_metric([name], 1 if ok else 0)
        yield fly
        yield ready
        lat = HistogramMetricFamily(
            _P + "upstream_latency_seconds", "Upstream time from request sent to response head.",
            labels=["upstream"],
        )  # fmt: skip
        err = CounterMetricFamily(
            _P + "upstream_errors",
            "Upstream failures by kind: connect, reset, timeout, cut, status.",
            labels=["upstream", "kind"],
        )  # fmt: skip
        ej = CounterMetricFamily(
            _P + "upstream_ejections", "Passive ejections.", labels=["upstream"]
        )
        rt = CounterMetricFamily(
            _P + "upstream_retries",
            "Requests retried elsewhere after failing here.",
            labels=["upstream"],
        )
        for name, s in sorted(self.upstream_stats.items()):
            lat.add_metric([name], s.latency.buckets(), s.latency.total)
            for kind, n in s.errors.items():
                err.add_metric([name, kind], n)
            ej.add_metric([name], s.ejections)
            rt.add_metric([name], s.retries)
        yield from (lat, err, ej, rt)
