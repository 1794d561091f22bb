"""OpenAI request fields → engine sampling parameters."""

from __future__ import annotations

from inkshadow.api.schemas import ResponseFormatBody
from inkshadow.engine.types import (
    JsonObjectFormat,
    JsonSchemaFormat,
    ResponseFormat,
    SamplingParams,
)
from inkshadow.errors import InvalidRequest

MAX_STOP_STRINGS = 4


def response_format(body: ResponseFormatBody | None) -> ResponseFormat | None:
    if body is None or body.type == "text":
        return None
    if body.type == "json_object":
        return JsonObjectFormat()
    assert body.json_schema is not None  # checked by the schema validator
    return JsonSchemaFormat(schema=body.json_schema.schema_, name=body.json_schema.name)


def sampling(
    *,
    max_tokens: int | None,
    default_max_tokens: int,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stop: str | list[str] | None,
    fmt: ResponseFormatBody | None,
) -> SamplingParams:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > MAX_STOP_STRINGS:
        raise InvalidRequest(f"at most {MAX_STOP_STRINGS} stop strings", param="stop")
    if any(not s for s in stops):
        raise InvalidRequest("stop strings must not be empty", param="stop")
    return SamplingParams(
        max_tokens=max_tokens or default_max_tokens,
        temperature=1.0 if temperature is None else temperature,
        top_p=1.0 if top_p is None else top_p,
        seed=seed,
        stop=tuple(stops),
        response_format=response_format(fmt),
    )
