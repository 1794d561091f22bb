"""Choose and build the engine named by the settings; heavy backends import lazily."""

from __future__ import annotations

from inkshadow.engine.types import Engine
from inkshadow.errors import InvalidRequest
from inkshadow.settings import Settings

_ENGINE_HINT = (
    "the in-process engine needs torch and transformers: "
    "pip install 'inkshadow[engine]' (or 'inkshadow[gpu]')"
)


def build_engine(settings: Settings) -> Engine:
    if settings.engine == "remote":
        if not settings.upstream_url:
            raise InvalidRequest("the remote engine needs --upstream URL (INKSHADOW_UPSTREAM_URL)")
        from inkshadow.engine.remote import RemoteEngine

        return RemoteEngine(settings)
    try:
        from inkshadow.engine.transformers_engine import TransformersEngine
    except ImportError as exc:  # optional dependency missing
        raise InvalidRequest(_ENGINE_HINT) from exc
    return TransformersEngine(settings)
