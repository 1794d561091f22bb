"""Per-key limits: requests per minute and concurrent requests. In memory by default;
through Redis when `redis_url` is set, so several gateway replicas share one budget.
Redis trouble fails open (logged): a cache outage must not take the API down."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Protocol

from inkshadow.errors import RateLimited

log = logging.getLogger("inkshadow.gateway")


class KeyLimiter(Protocol):
    async def acquire(self, key_id: str) -> str: ...  # returns a lease token
    async def release(self, key_id: str, lease: str) -> None: ...
    async def close(self) -> None: ...


def _rpm_error(retry_after: float) -> RateLimited:
    return RateLimited(
        "rate limit reached for this API key", retry_after=retry_after, code="rate_limit_exceeded"
    )


def _concurrency_error() -> RateLimited:
    return RateLimited(
        "too many concurrent requests for this API key",
        retry_after=1.0,
        code="concurrency_limit_exceeded",
    )


class MemoryLimiter:
    """A token bucket (capacity rpm, refilled rpm/60 a second) and a counter per key."""

    SWEEP_EVERY = 1024  # acquires between sweeps of idle buckets

    def __init__(self, rpm: int, concurrency: int) -> None:
        self.rpm = rpm
        self.concurrency = concurrency
        self._buckets: dict[str, tuple[float, float]] = {}
        self._active: dict[str, int] = {}
        self._calls = 0

    def _sweep(self, now: float) -> None:
        """Forget buckets idle for a minute: refilled to capacity, they equal no bucket.
        Without keys the key is the client address, so this bounds memory by traffic."""
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60.0}

    async def acquire(self, key_id: str) -> str:
        self._calls += 1
        if self._calls % self.SWEEP_EVERY == 0:
            self._sweep(time.monotonic())
        active = self._active.get(key_id, 0)
        if self.concurrency and active >= self.concurrency:
            raise _concurrency_error()  # checked first: a refused request spends no token
        if self.rpm:
            now = time.monotonic()
            tokens, last = self._buckets.get(key_id, (float(self.rpm), now))
            tokens = min(float(self.rpm), tokens + (now - last) * self.rpm / 60.0)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise _rpm_error((1.0 - tokens) * 60.0 / self.rpm)
            self._buckets[key_id] = (tokens - 1.0, now)
        if self.concurrency:
            self._active[key_id] = active + 1
        return ""

    async def release(self, key_id: str, lease: str) -> None:
        if self.concurrency:
            left = self._active.get(key_id, 1) - 1
            if left > 0:
                self._active[key_id] = left
            else:
                self._active.pop(key_id, None)

    async def close(self) -> None:
        return None


# Concurrency as a sorted set of leases scored by start time: leases older than the lease
# time are dropped, so a gateway that died holding slots does not leak them forever.
_ACQUIRE = """
local rpm, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, lease_s = tonumber(ARGV[3]), tonumber(ARGV[4])
if rpm > 0 then
  local n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('EXPIRE', KEYS[1], 61) end
  if n > rpm then return -1 end
end
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - lease_s)
  if redis.call('ZCARD', KEYS[2]) >= cap then return -2 end
  redis.call('ZADD', KEYS[2], now, ARGV[5])
  redis.call('EXPIRE', KEYS[2], math.ceil(lease_s))
end
return 1
"""


class RedisLimiter:
    """Fixed one-minute windows for rpm; leased slots for concurrency."""

    def __init__(self, url: str, rpm: int, concurrency: int, lease_s: float) -> None:
        try:
            import redis.asyncio as redis_asyncio
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("redis limits need: pip install 'inkshadow[redis]'") from exc
        self._redis: Any = redis_asyncio.Redis.from_url(url)
        self._script: Any = self._redis.register_script(_ACQUIRE)
        self.rpm = rpm
        self.concurrency = concurrency
        self.lease_s = lease_s

    async def acquire(self, key_id: str) -> str:
        now = time.time()
        window = int(now // 60)
        lease = uuid.uuid4().hex
        try:
            result = await self._script(
                keys=[f"inkshadow:gw:rpm:{key_id}:{window}", f"inkshadow:gw:conc:{key_id}"],
                args=[self.rpm, self.concurrency, now, self.lease_s, lease],
            )
        except Exception as exc:  # redis errors are many classes; fail open, say so
            log.warning(
                "redis limit check failed, allowing request", extra={"error": type(exc).__name__}
            )
            return ""
        if result == -1:
            raise _rpm_error(60.0 - now % 60.0)
        if result == -2:
            raise _concurrency_error()
        return lease

    async def release(self, key_id: str, lease: str) -> None:
        if not lease or not self.concurrency:
            return
        try:
            await self._redis.zrem(f"inkshadow:gw:conc:{key_id}", lease)
        except Exception as exc:
            log.warning("redis release failed", extra={"error": type(exc).__name__})

    async def close(self) -> None:
        await self._redis.aclose()
