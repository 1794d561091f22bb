"""Chat sessions: read or forget the server-side history kept for a `session_id`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from inkshadow.api.state import AppState
from inkshadow.cache.sessions import SessionStore
from inkshadow.errors import ServiceUnavailable

router = APIRouter()


def _sessions(request: Request) -> tuple[SessionStore, str]:
    state: AppState = request.app.state.ink
    if state.sessions is None:
        raise ServiceUnavailable("chat sessions are not configured on this server")
    return state.sessions, str(getattr(request.state, "tenant", "anonymous"))


@router.get("/v1/sessions/{session_id}")
async def get_session(session_id: str, request: Request) -> dict[str, Any]:
    sessions, tenant = _sessions(request)
    return await sessions.get(tenant, session_id)


@router.delete("/v1/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, request: Request) -> Response:
    sessions, tenant = _sessions(request)
    await sessions.delete(tenant, session_id)
    return Response(status_code=204)
