"""The result cache: same key hits, anything that changes the answer misses; Redis trouble
is a counted miss, never an error."""

from __future__ import annotations

from pathlib import Path

from inkshadow.cache.results import ResultCache, result_key
from inkshadow.cache.store import MemoryStore, RedisStore
from tests.redis_server import redis_process

BASE = {
    "blob": "a" * 64,
    "task": "temporal",
    "query": "person enters",
    "sampling": {"fps": 2.0, "max_frames": 64, "start": None, "end": None},
    "model": "qwen2.5-vl",
    "schema": None,
    "tenant": "anonymous",
}


def test_key_isolation_with_positive_control() -> None:
    key = result_key(**BASE)
    assert key == result_key(**dict(reversed(list(BASE.items()))))  # positive control
    changes = [
        {"blob": "b" * 64},  # other bytes (and so other dimensions)
        {"task": "spatial"},
        {"query": "person leaves"},
        {"sampling": {**BASE["sampling"], "fps": 1.0}},  # type: ignore[dict-item]
        {"model": "qwen3-vl"},
        {"tenant": "key-1234"},
        {"schema": {"type": "object"}},
    ]
    keys = {result_key(**{**BASE, **change}) for change in changes}
    assert key not in keys and len(keys) == len(changes)


async def test_hits_and_misses_are_counted() -> None:
    seen: list[str] = []
    cache = ResultCache(MemoryStore(10), 60, seen.append)
    key = result_key(**BASE)
    assert await cache.get(key) is None
    await cache.put(key, {"task": "temporal", "results": [{"start": 1.0, "end": 2.0}]})
    assert await cache.get(key) == {"task": "temporal", "results": [{"start": 1.0, "end": 2.0}]}
    assert await cache.get(result_key(**{**BASE, "tenant": "other"})) is None
    assert seen == ["miss", "hit", "miss"]


async def test_damaged_values_are_not_trusted() -> None:
    store = MemoryStore(10)
    cache = ResultCache(store, 60)
    await store.set("result:x", b"\x80\x04pickle?", 60)
    assert await cache.get("result:x") is None
    await store.set("result:y", b"[1, 2]", 60)
    assert await cache.get("result:y") is None


async def test_redis_stopped_means_misses_not_errors(tmp_path: Path) -> None:
    server = redis_process(tmp_path)
    seen: list[str] = []
    cache = ResultCache(RedisStore(server.url), 60, seen.append)
    key = result_key(**BASE)
    await cache.put(key, {"ok": True})
    assert await cache.get(key) == {"ok": True}
    server.stop()
    assert await cache.get(key) is None
    await cache.put(key, {"ok": True})  # swallowed
    assert seen == ["hit", "error", "error"]
