"""Byte stores with expiry: Redis when configured, an in-memory LRU otherwise.

Values are bytes the callers encode as JSON: nothing is ever pickled, so a writable Redis
cannot make us run code.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from inkshadow.errors import InvalidRequest, ServiceUnavailable

Change = Callable[[bytes | None], bytes]


class CacheDown(ServiceUnavailable):
    """The shared store does not answer."""

    code = "cache_unavailable"


class ByteStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def ttl(self, key: str) -> float | None: ...

    async def update(self, key: str, change: Change, ttl_s: float) -> bytes:
        """Replace the value with `change(old)` atomically (no lost update when two
        requests change one key at once); returns the new value."""
        ...

    async def aclose(self) -> None: ...


class MemoryStore:
    """An LRU of at most `max_entries` keys, each with its own expiry."""

    def __init__(self, max_entries: int, clock: Any = time.monotonic) -> None:
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if self._max == 0:
            return
        self._items[key] = (self._clock() + ttl_s, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> bool:
        return self._items.pop(key, None) is not None

    async def ttl(self, key: str) -> float | None:
        item = self._items.get(key)
        if item is None or item[0] <= self._clock():
            return None
        return float(item[0] - self._clock())

    async def update(self, key: str, change: Change, ttl_s: float) -> bytes:
        # No await between the read and the write: atomic on the event loop.
        item = self._items.get(key)
        old = item[1] if item is not None and item[0] > self._clock() else None
        value = change(old)
        await self.set(key, value, ttl_s)
        return value

    async def aclose(self) -> None:
        self._items.clear()


class RedisStore:
    """Redis, with short timeouts: a cache that hangs is worse than a miss."""

    def __init__(self, url: str, prefix: str = "inkshadow:") -> None:
        try:
            import redis.asyncio as aioredis
            from redis.exceptions import RedisError
        except ImportError as exc:
            raise InvalidRequest(
                "INKSHADOW_REDIS_URL needs the redis client: pip install 'inkshadow[redis]'"
            ) from exc
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
        self._prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, retry_on_timeout=False
        )

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(self._prefix + key)
        except self._errors as exc:
            raise CacheDown("the cache (Redis) does not answer") from exc
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        try:
            await self._redis.set(self._prefix + key, value, px=max(1, int(ttl_s * 1000)))
        except self._errors as exc:
            raise CacheDown("the cache (Redis) does not answer") from exc

    async def delete(self, key: str) -> bool:
        try:
            return bool(await self._redis.delete(self._prefix + key))
        except self._errors as exc:
            raise CacheDown("the cache (Redis) does not answer") from exc

    async def ttl(self, key: str) -> float | None:
        try:
            ms = await self._redis.pttl(self._prefix + key)
        except self._errors as exc:
            raise CacheDown("the cache (Redis) does not answer") from exc
        return None if ms is None or ms < 0 else ms / 1000

    async def update(self, key: str, change: Change, ttl_s: float) -> bytes:
        """Optimistic: WATCH, read, MULTI/SET/EXEC; a concurrent write retries."""
        from redis.exceptions import WatchError

        name = self._prefix + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(name)
                        old = await pipe.get(name)
                        value = change(old if isinstance(old, bytes) else None)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.set(name, value, px=max(1, int(ttl_s * 1000)))
                        await pipe.execute()
                        return value
                    except WatchError:
                        continue
        except self._errors as exc:
            raise CacheDown("the cache (Redis) does not answer") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_store(redis_url: str | None, max_entries: int) -> ByteStore:
    if redis_url:
        return RedisStore(redis_url)
    return MemoryStore(max_entries)
