"""Answers of identical analyses, served without the engine.

The key covers everything that can change an answer: the media's content hash (bytes, and so
dimensions), the task, the query, sampling, model, schema and the caller's tenant. Redis
trouble is a cache miss, counted, never an error for the client.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from inkshadow.cache.store import ByteStore, CacheDown

log = logging.getLogger(__name__)

Counter = Callable[[str], None]  # called with "hit", "miss" or "error"


def result_key(**parts: Any) -> str:
    """A stable key from JSON-serialisable parts (order-independent)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "result:" + hashlib.sha256(canonical.encode()).hexdigest()


class ResultCache:
    def __init__(self, store: ByteStore, ttl_s: float, count: Counter | None = None) -> None:
        self._store = store
        self._ttl = ttl_s
        self._count = count or (lambda _: None)

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self._store.get(key)
        except CacheDown:
            self._count("error")
            log.warning("result cache unavailable; answering without it")
            return None
        if raw is None:
            self._count("miss")
            return None
        try:
            value = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._count("miss")  # a foreign or damaged value is never trusted
            return None
        if not isinstance(value, dict):
            self._count("miss")
            return None
        self._count("hit")
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            await self._store.set(key, json.dumps(value).encode(), self._ttl)
        except CacheDown:
            self._count("error")
