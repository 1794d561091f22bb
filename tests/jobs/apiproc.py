"""A real API server process with a stub engine (jobs need no model): `python -m
tests.jobs.apiproc PORT`. Settings come from INKSHADOW_* variables; it migrates at start."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from inkshadow.api.app import create_app
from inkshadow.api.server import serve
from inkshadow.engine.types import Chunk, EngineInfo, GenerationRequest
from inkshadow.families import Family
from inkshadow.logs import configure_logging
from inkshadow.settings import Settings


class StubEngine:
    info = EngineInfo("stub", Family.QWEN2_5_VL, "remote", False, 4096)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def alive(self) -> bool:
        return True

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        yield Chunk("", "stop")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    serve(create_app(settings, StubEngine(), migrate=True), "127.0.0.1", int(sys.argv[1]))


if __name__ == "__main__":
    main()
