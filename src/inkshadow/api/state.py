"""What the routes of one app share: settings, engine, media resolver and library (blob
store, frame cache), metrics, drain state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from inkshadow.api.media import MediaResolver
from inkshadow.api.metrics import ApiMetrics
from inkshadow.auth import KeyVerifier
from inkshadow.cache.results import ResultCache
from inkshadow.cache.sessions import SessionStore
from inkshadow.engine.types import Engine
from inkshadow.jobs.runtime import JobsRuntime
from inkshadow.media.library import MediaLibrary
from inkshadow.settings import Settings

TINY_WARNING = "random-weight test model: its output is noise, not understanding"


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    media: MediaResolver
    metrics: ApiMetrics
    keys: KeyVerifier
    library: MediaLibrary
    sessions: SessionStore | None = None
    results: ResultCache | None = None
    jobs: JobsRuntime | None = None
    loaded: bool = False
    load_error: str | None = None
    draining: bool = False
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ready(self) -> bool:
        return self.loaded and not self.draining and self.engine.alive()
