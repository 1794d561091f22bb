"""Chat sessions: the messages of a conversation, kept for `session_ttl_s` after last use
(the guides' 1 hour). Sessions belong to a tenant (the API key id); another tenant's id is
simply not found. Unlike the result cache, a session store that is down is an error (503):
silently forgetting a conversation would be wrong."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from inkshadow.cache.store import ByteStore
from inkshadow.errors import InvalidRequest, NotFound, PayloadTooLarge

_SESSION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_SESSION_BYTES = 16 * 1024 * 1024


def _messages(raw: bytes | None) -> list[dict[str, Any]]:
    if raw is None:
        return []
    try:
        messages = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []  # a foreign or damaged value is never trusted
    return messages if isinstance(messages, list) else []


def check_session_id(session_id: str) -> str:
    if not _SESSION_ID.match(session_id):
        raise InvalidRequest(
            "session_id must be 1-128 characters of letters, digits, '.', '_', ':' or '-'",
            param="session_id",
        )
    return session_id


class SessionStore:
    def __init__(self, store: ByteStore, ttl_s: float) -> None:
        self._store = store
        self.ttl_s = ttl_s

    @staticmethod
    def _key(tenant: str, session_id: str) -> str:
        owner = hashlib.sha256(tenant.encode()).hexdigest()[:16]
        return f"session:{owner}:{check_session_id(session_id)}"

    async def history(self, tenant: str, session_id: str) -> list[dict[str, Any]]:
        return _messages(await self._store.get(self._key(tenant, session_id)))

    async def append(
        self, tenant: str, session_id: str, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Add messages atomically: two turns finishing at once both stay."""

        def change(old: bytes | None) -> bytes:
            raw = json.dumps([*_messages(old), *messages], ensure_ascii=False).encode()
            if len(raw) > MAX_SESSION_BYTES:
                raise PayloadTooLarge(
                    "this session's history is over 16 MB; start a new session_id",
                    param="session_id",
                )
            return raw

        new = await self._store.update(self._key(tenant, session_id), change, self.ttl_s)
        return _messages(new)

    async def get(self, tenant: str, session_id: str) -> dict[str, Any]:
        key = self._key(tenant, session_id)
        raw = await self._store.get(key)
        if raw is None:
            raise NotFound(f"no session {session_id!r} (sessions expire after an idle hour)")
        ttl = await self._store.ttl(key)
        return {
            "id": session_id,
            "object": "session",
            "messages": json.loads(raw),
            "expires_in": round(ttl) if ttl is not None else None,
        }

    async def delete(self, tenant: str, session_id: str) -> None:
        if not await self._store.delete(self._key(tenant, session_id)):
            raise NotFound(f"no session {session_id!r}")
