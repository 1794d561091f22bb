"""Probes and metrics: /health and /healthz (liveness), /ready (readiness), /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from inkshadow.api.state import AppState

router = APIRouter()


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ink
    return state


@router.get("/health")
@router.get("/healthz")
async def health(request: Request) -> Response:
    """Alive while the engine can still serve; a dead engine loop fails it so the pod restarts.
    A model still loading is alive (not ready)."""
    state = _state(request)
    if state.load_error is not None:
        return JSONResponse({"status": "dead", "reason": "engine failed to start"}, 503)
    if state.loaded and not state.engine.alive():
        return JSONResponse({"status": "dead", "reason": "engine stopped"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/ready")
async def ready(request: Request) -> Response:
    state = _state(request)
    if state.ready:
        info = state.engine.info
        return JSONResponse(
            {"ready": True, "model": info.model, "engine": info.engine, "tiny": info.tiny}
        )
    reason = "draining" if state.draining else ("loading" if not state.loaded else "engine down")
    return JSONResponse({"ready": False, "reason": reason}, status_code=503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(_state(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
