"""Chat sessions: per-tenant history with a TTL."""

from __future__ import annotations

import pytest

from inkshadow.cache.sessions import SessionStore
from inkshadow.cache.store import MemoryStore
from inkshadow.errors import InvalidRequest, NotFound


async def test_history_appends_and_is_tenant_scoped() -> None:
    sessions = SessionStore(MemoryStore(10), 3600)
    await sessions.append("t1", "chat-1", [{"role": "user", "content": "hi"}])
    await sessions.append("t1", "chat-1", [{"role": "assistant", "content": "hello"}])
    assert [m["content"] for m in await sessions.history("t1", "chat-1")] == ["hi", "hello"]
    assert await sessions.history("t2", "chat-1") == []
    got = await sessions.get("t1", "chat-1")
    assert got["expires_in"] == 3600 and len(got["messages"]) == 2
    with pytest.raises(NotFound):
        await sessions.get("t2", "chat-1")
    await sessions.delete("t1", "chat-1")
    with pytest.raises(NotFound):
        await sessions.delete("t1", "chat-1")


@pytest.mark.parametrize("bad", ["", "a b", "x" * 129, "../etc", "ключ"])
async def test_bad_ids(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        await SessionStore(MemoryStore(10), 60).history("t", bad)


async def test_concurrent_turns_lose_nothing_in_redis(redis_url: str) -> None:
    """Two replicas finishing turns of one session at once: every message stays."""
    import asyncio
    import uuid

    from inkshadow.cache.store import RedisStore

    prefix = f"t-{uuid.uuid4().hex}:"  # a fresh namespace in a shared Redis
    stores = [RedisStore(redis_url, prefix=prefix), RedisStore(redis_url, prefix=prefix)]
    replicas = [SessionStore(s, 60) for s in stores]
    try:
        await asyncio.gather(*(
            replicas[n % 2].append("t", "busy", [{"role": "user", "content": str(n)}])
            for n in range(40)
        ))  # fmt: skip
        kept = await replicas[0].history("t", "busy")
        assert sorted(int(m["content"]) for m in kept) == list(range(40))
    finally:
        for s in stores:
            await s.aclose()


async def test_oversized_history_is_refused_and_kept() -> None:
    from inkshadow.cache import sessions as module
    from inkshadow.errors import PayloadTooLarge

    store = SessionStore(MemoryStore(10), 60)
    await store.append("t", "big", [{"role": "user", "content": "x" * 1000}])
    limit, module.MAX_SESSION_BYTES = module.MAX_SESSION_BYTES, 1500
    try:
        with pytest.raises(PayloadTooLarge):
            await store.append("t", "big", [{"role": "user", "content": "y" * 1000}])
    finally:
        module.MAX_SESSION_BYTES = limit
    assert len(await store.history("t", "big")) == 1
