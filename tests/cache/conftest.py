"""Real Redis for the cache tests (the machine's, else a throwaway server)."""

from __future__ import annotations

from tests.services import redis_url

__all__ = ["redis_url"]
