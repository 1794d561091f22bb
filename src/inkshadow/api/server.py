"""Run an ASGI app with uvicorn and drain gracefully on SIGTERM/SIGINT.

On the first signal /ready turns false at once and new requests are refused with 503, while
requests in flight (open streams included) get up to `drain_grace_s` to finish; then the
server exits. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
from types import FrameType

import uvicorn
from fastapi import FastAPI

from inkshadow.api.state import AppState

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: AppState) -> None:
        super().__init__(config)
        self._state = state
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is not None or self._state.draining:
            super().handle_exit(sig, frame)  # second signal: stop now
            return
        self._state.draining = True
        log.info("draining", extra={"in_flight": self._state.in_flight})
        self._drain = asyncio.get_event_loop().create_task(self._wait_then_exit())

    async def _wait_then_exit(self) -> None:
        state = self._state
        if state.in_flight:
            state.idle.clear()
            try:
                await asyncio.wait_for(state.idle.wait(), state.settings.drain_grace_s)
            except TimeoutError:
                log.warning("drain grace period over", extra={"in_flight": state.in_flight})
        self.should_exit = True


def serve(app: FastAPI, host: str, port: int) -> None:
    state: AppState = app.state.ink
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, int(state.settings.drain_grace_s)),
    )
    server = DrainingServer(config, state)
    server.run()
