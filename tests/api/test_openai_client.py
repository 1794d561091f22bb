"""The official openai client, unchanged, against our server."""

from __future__ import annotations

import json
from typing import Literal

import jsonschema
import openai
from pydantic import BaseModel, ConfigDict, Field

from tests.api.media_payloads import png_data_url
from tests.conftest import ServerProcess


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")  # additionalProperties: false in the schema

    label: Literal["person", "car", "dog"]
    start: int = Field(ge=0, le=600)


def client(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def test_chat_with_image(vl_server: ServerProcess) -> None:
    c = client(vl_server)
    model = c.models.list().data[0].id
    out = c.chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": png_data_url(56, 56)}},
                    {"type": "text", "text": "describe"},
                ],
            }
        ],
        max_tokens=5,
        seed=1,
    )
    assert out.choices[0].message.role == "assistant"
    assert out.usage is not None and 0 < out.usage.completion_tokens <= 5


def test_stream(vl_server: ServerProcess) -> None:
    c = client(vl_server)
    stream = c.chat.completions.create(
        model="qwen2.5-vl",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 6


def test_structured_output(vl_server: ServerProcess) -> None:
    c = client(vl_server)
    parsed = c.chat.completions.parse(
        model="qwen2.5-vl",
        messages=[{"role": "user", "content": "one event"}],
        response_format=Event,
        max_tokens=100,
        seed=0,
    )
    event = parsed.choices[0].message.parsed
    assert isinstance(event, Event)
    raw = c.chat.completions.create(
        model="qwen2.5-vl",
        messages=[{"role": "user", "content": "json please"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "event", "schema": Event.model_json_schema()},
        },
        max_tokens=100,
        seed=1,
    )
    jsonschema.validate(json.loads(raw.choices[0].message.content or ""), Event.model_json_schema())


def test_errors_raise_typed_client_errors(vl_server: ServerProcess) -> None:
    c = client(vl_server)
    try:
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    except openai.NotFoundError as exc:
        assert exc.code == "model_not_found"
    else:
        raise AssertionError("expected NotFoundError")
