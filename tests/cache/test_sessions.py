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
