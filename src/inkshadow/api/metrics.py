"""Prometheus metrics of one API server, in a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "inkshadow_http_requests", "HTTP requests.", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "inkshadow_http_request_duration_seconds",
            "Time from request to the end of the response (P50/P90/P99 come from it).",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "inkshadow_http_requests_in_flight", "Requests being served.", registry=r
        )
        self.ttft = Histogram(
            "inkshadow_time_to_first_token_seconds",
            "Time from request to the first generated text.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "inkshadow_prompt_tokens", "Prompt tokens processed.", registry=r
        )
        self.generated_tokens = Counter(
            "inkshadow_generation_tokens", "Tokens generated.", registry=r
        )
        self.errors = Counter(
            "inkshadow_errors", "Errors returned to clients, by type.", ["type", "code"], registry=r
        )
        self.batch_size = Histogram(
            "inkshadow_batch_size",
            "Requests generated together in one engine batch.",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
            registry=r,
        )
        self.frames_decoded = Counter(
            "inkshadow_frames_decoded", "Video frames sampled for the model.", registry=r
        )
        self.preprocess_seconds = Histogram(
            "inkshadow_preprocess_seconds",
            "Time spent fetching and decoding the media of one request.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

        self.cache = Counter(
            "inkshadow_cache_requests",
            "Result cache lookups by outcome (hit, miss, error: the cache did not answer).",
            ["result"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
