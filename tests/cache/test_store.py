"""Byte stores: the in-memory LRU and a real Redis server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inkshadow.cache.store import ByteStore, CacheDown, MemoryStore, RedisStore
from tests.redis_server import RedisProcess, redis_process


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_memory_lru_and_ttl() -> None:
    clock = Clock()
    store = MemoryStore(2, clock=clock)
    await store.set("a", b"1", 10)
    await store.set("b", b"2", 10)
    assert await store.get("a") == b"1"  # a is now most recent
    await store.set("c", b"3", 10)
    assert await store.get("b") is None  # least recently used went
    assert await store.get("a") == b"1"
    clock.now = 11
    assert await store.get("a") is None
    assert await store.ttl("c") is None


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = redis_process(tmp_path)
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> ByteStore:
    if request.param == "memory":
        return MemoryStore(100)
    server: RedisProcess = request.getfixturevalue("redis_server")
    return RedisStore(server.url, prefix=f"t{tmp_path.name}:")


async def test_roundtrip(store: ByteStore) -> None:
    assert await store.get("k") is None
    await store.set("k", b'{"x": 1}', 60)
    assert await store.get("k") == b'{"x": 1}'
    ttl = await store.ttl("k")
    assert ttl is not None and 50 < ttl <= 60
    assert await store.delete("k") is True
    assert await store.delete("k") is False
    await store.aclose()


async def test_redis_down_raises_cache_down(redis_server: RedisProcess) -> None:
    store = RedisStore(redis_server.url)
    await store.set("k", b"v", 60)
    redis_server.stop()
    with pytest.raises(CacheDown):
        await store.get("k")
    with pytest.raises(CacheDown):
        await store.set("k", b"v", 60)
    await store.aclose()
