"""RemoteEngine against a real vLLM (CPU) server serving a tiny random-weight Qwen2.5-VL.

The model's answers are noise; what is checked is the path: request shape, every video
frame reaching the model, streaming, structured output, and error mapping.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jsonschema
import numpy as np
import pytest
from PIL import Image

from inkshadow.engine.clip import video_upload
from inkshadow.engine.remote import MAX_CONSECUTIVE_FAILURES, RemoteEngine
from inkshadow.engine.types import (
    Chunk,
    GenerationRequest,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    SamplingParams,
    TextPart,
    VideoPart,
    collect,
)
from inkshadow.errors import InvalidRequest, ModelNotFound, ServiceUnavailable, UpstreamError
from inkshadow.families import Family
from inkshadow.settings import Settings

from .conftest import VllmServer, tcp_proxy

pytestmark = pytest.mark.vllm

# The tiny Qwen2.5-VL video processor keeps frames of 100352..602112 pixels as they are;
# 252x448 is a multiple of 28 in that range: 18x32 patches -> 144 tokens per 2 frames.
FRAME_H, FRAME_W = 252, 448
TOKENS_PER_FRAME_PAIR = (FRAME_H // 28) * (FRAME_W // 28)
# A 56x56 image is 4x4 patches -> 2x2 merged tokens.
IMAGE_TOKENS = 4


def video(frames: int, fps: float = 2.0, seed: int = 0) -> VideoPart:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (frames, FRAME_H, FRAME_W, 3), dtype=np.uint8)
    step = 30 / fps  # as if sampled from a 30 fps source
    indices = tuple(round(i * step) for i in range(frames))
    return VideoPart(
        frames=pixels,
        timestamps=tuple(i / 30 for i in indices),
        indices=indices,
        sample_fps=fps,
        source_fps=30.0,
        source_frames=indices[-1] + 1,
        duration=(indices[-1] + 1) / 30,
    )


def ask(*parts: TextPart | ImagePart | VideoPart, **params: Any) -> GenerationRequest:
    sampling = SamplingParams(**{"max_tokens": 8, "temperature": 0.0, **params})
    return GenerationRequest((Message("user", tuple(parts)),), sampling)


@asynccontextmanager
async def remote(url: str, **settings: Any) -> AsyncIterator[RemoteEngine]:
    engine = RemoteEngine(
        Settings(engine="remote", upstream_url=url, **settings), tiny=True, start_timeout_s=5
    )
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()


async def prompt_tokens(engine: RemoteEngine, request: GenerationRequest) -> int:
    return (await collect(engine.stream(request))).usage.prompt_tokens


async def test_start_reads_the_upstream_listing(vllm_qwen25: VllmServer) -> None:
    async with remote(vllm_qwen25.url) as engine:
        info = engine.info
        assert engine.alive()
    assert info.model == vllm_qwen25.model
    assert info.family is Family.QWEN2_5_VL  # guessed from the folder name
    assert (info.engine, info.tiny, info.max_model_len) == ("remote", True, 4096)
    assert not engine.alive()  # closed


async def test_text(vllm_qwen25: VllmServer) -> None:
    async with remote(vllm_qwen25.url) as engine:
        result = await collect(engine.stream(ask(TextPart("Say hello."))))
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 8
    assert result.usage.prompt_tokens > 5
    assert result.text


async def test_image_adds_its_tokens(vllm_qwen25: VllmServer) -> None:
    image = ImagePart(Image.new("RGB", (56, 56), (200, 30, 30)))
    async with remote(vllm_qwen25.url) as engine:
        text_only = await prompt_tokens(engine, ask(TextPart("What is this?")))
        with_image = await prompt_tokens(engine, ask(image, TextPart("What is this?")))
    assert with_image - text_only == IMAGE_TOKENS + 2  # + vision_start / vision_end


@pytest.mark.parametrize("frames", [8, 40])
async def test_video_keeps_every_frame(vllm_qwen25: VllmServer, frames: int) -> None:
    """Token counts prove vLLM took every frame as sent (its default would keep 32)."""
    async with remote(vllm_qwen25.url) as engine:
        text_only = await prompt_tokens(engine, ask(TextPart("What happens?")))
        result = await collect(engine.stream(ask(video(frames), TextPart("What happens?"))))
    video_tokens = result.usage.prompt_tokens - text_only - 2
    assert video_tokens == frames // 2 * TOKENS_PER_FRAME_PAIR
    assert result.usage.completion_tokens == 8


async def test_video_rate_reaches_the_model(vllm_qwen25: VllmServer) -> None:
    """The clip's rate (= sample_fps) sets Qwen2.5-VL's MRoPE time step: the same frames at
    another rate change the logprobs of the prompt tokens after the video."""

    async def logprobs(fps: float) -> list[float]:
        upload = video_upload([video(8, fps=fps)], Family.QWEN2_5_VL)
        assert upload.urls[0].startswith("data:video/mp4;base64,")
        body = {
            "model": vllm_qwen25.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "video_url", "video_url": {"url": upload.urls[0]}},
                        {"type": "text", "text": "What happens here?"},
                    ],
                }
            ],
            "max_tokens": 1,
            "temperature": 0,
            "prompt_logprobs": 0,
            **upload.request_fields,
        }
        async with httpx.AsyncClient(base_url=vllm_qwen25.url, timeout=60) as client:
            answer = await client.post("/v1/chat/completions", json=body)
        answer.raise_for_status()
        tail = answer.json()["prompt_logprobs"][-5:]
        return [next(iter(entry.values()))["logprob"] for entry in tail]

    at_2, at_1 = await logprobs(2.0), await logprobs(1.0)
    assert await logprobs(2.0) == pytest.approx(at_2, abs=1e-6)  # deterministic
    assert max(abs(a - b) for a, b in zip(at_2, at_1, strict=True)) > 1e-4


async def test_stream_yields_pieces_then_usage(vllm_qwen25: VllmServer) -> None:
    chunks: list[Chunk] = []
    async with remote(vllm_qwen25.url) as engine:
        async for chunk in engine.stream(ask(TextPart("Count to ten."), max_tokens=16)):
            chunks.append(chunk)
    text_chunks = [c for c in chunks if c.text]
    assert len(text_chunks) >= 2
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.finish_reason == "length"
    assert last.usage is not None and last.usage.completion_tokens == 16


async def test_json_schema_output_validates(vllm_qwen25: VllmServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "label": {"type": "string", "maxLength": 6},
            "count": {"type": "integer", "minimum": 0, "maximum": 9},
        },
        "required": ["label", "count"],
        "additionalProperties": False,
    }
    fmt = JsonSchemaFormat(schema, name="answer")
    async with remote(vllm_qwen25.url) as engine:
        for seed in range(3):
            request = ask(
                TextPart("Label it."),
                max_tokens=64,
                temperature=1.0,
                seed=seed,
                response_format=fmt,
            )
            result = await collect(engine.stream(request))
            assert result.finish_reason == "stop", result.text
            jsonschema.validate(json.loads(result.text), schema)


async def test_json_object_is_accepted(vllm_qwen25: VllmServer) -> None:
    async with remote(vllm_qwen25.url) as engine:
        request = ask(TextPart("JSON please."), max_tokens=24, response_format=JsonObjectFormat())
        result = await collect(engine.stream(request))
    assert result.text.startswith("{")


async def test_unknown_upstream_model(vllm_qwen25: VllmServer) -> None:
    with pytest.raises(ModelNotFound, match="no-such-model"):
        async with remote(vllm_qwen25.url, upstream_model="no-such-model"):
            pass


async def test_too_long_prompt_is_the_clients_fault(vllm_qwen25: VllmServer) -> None:
    async with remote(vllm_qwen25.url) as engine:
        with pytest.raises(InvalidRequest) as caught:
            await collect(engine.stream(ask(TextPart("word " * 5000))))
        assert engine.alive()  # the upstream is fine
    assert "context length" in caught.value.message
    assert len(caught.value.message) <= 500


async def test_upstream_never_answers() -> None:
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        engine = RemoteEngine(Settings(engine="remote", upstream_url=url), start_timeout_s=1.0)
        with pytest.raises(ServiceUnavailable):
            await engine.start()
    assert not engine.alive()


async def test_upstream_going_away_marks_engine_dead(vllm_qwen25: VllmServer) -> None:
    async with tcp_proxy(vllm_qwen25.url) as proxy, remote(proxy.url) as engine:
        assert (await collect(engine.stream(ask(TextPart("Hi"))))).usage.completion_tokens == 8
        await proxy.stop()
        for _ in range(MAX_CONSECUTIVE_FAILURES):
            assert engine.alive()
            with pytest.raises(UpstreamError):
                await collect(engine.stream(ask(TextPart("Hi"))))
        assert not engine.alive()


async def test_stream_cut_midway_raises_from_the_iterator(vllm_qwen25: VllmServer) -> None:
    # Enough bytes for the headers and a few events, not for 64 tokens of events.
    async with tcp_proxy(vllm_qwen25.url, cut_after=3000) as proxy, remote(proxy.url) as engine:
        received: list[Chunk] = []
        with pytest.raises(UpstreamError):
            async for chunk in engine.stream(ask(TextPart("Go on."), max_tokens=64)):
                received.append(chunk)
    assert received  # it failed mid-stream, after the first pieces
    assert all(c.finish_reason is None for c in received)


# --- Qwen3-VL: `<t seconds>` markers in the prompt -----------------------------------------

# 256x448 at patch 16, merge 2: 8x14 merged tokens per 2 frames.
Q3_H, Q3_W = 256, 448


def q3_video(frames: int, start_index: int = 0) -> VideoPart:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (frames, Q3_H, Q3_W, 3), dtype=np.uint8)
    indices = tuple(start_index + 15 * i for i in range(frames))  # 2 fps from 30 fps
    return VideoPart(
        frames=pixels,
        timestamps=tuple(i / 30 for i in indices),
        indices=indices,
        sample_fps=2.0,
        source_fps=30.0,
        source_frames=indices[-1] + 1,
        duration=(indices[-1] + 1) / 30,
    )


async def test_qwen3_video_carries_true_timestamps(vllm_qwen3: VllmServer) -> None:
    """Every frame arrives, and the time markers follow the source timeline: the same
    frames 100 s into the video make longer `<100.x seconds>` markers."""
    async with remote(vllm_qwen3.url) as engine:
        assert engine.info.family is Family.QWEN3_VL
        text = await prompt_tokens(engine, ask(TextPart("When?")))
        at_0 = await prompt_tokens(engine, ask(q3_video(8), TextPart("When?"))) - text
        at_100 = await prompt_tokens(engine, ask(q3_video(8, 3000), TextPart("When?"))) - text
        many = await prompt_tokens(engine, ask(q3_video(40), TextPart("When?"))) - text
    pair = (Q3_H // 32) * (Q3_W // 32)
    assert at_0 > 4 * pair  # 4 frame pairs plus their markers
    assert many - at_0 >= 16 * pair  # 40 frames: 16 pairs more (vLLM's default keeps 32)
    assert at_100 > at_0  # the markers read ~100 s, not ~0 s


async def test_qwen3_two_videos_travel_as_clips(vllm_qwen3: VllmServer) -> None:
    """Per-request kwargs cannot describe two videos: both go as clips, every frame kept."""
    async with remote(vllm_qwen3.url) as engine:
        text = await prompt_tokens(engine, ask(TextPart("Compare.")))
        one = await prompt_tokens(engine, ask(q3_video(8), TextPart("Compare.")))
        two = await prompt_tokens(engine, ask(q3_video(8), q3_video(8), TextPart("Compare.")))
    assert two - text == 2 * (one - text)


async def _in_process_prompt_tokens(family: Family, request: GenerationRequest) -> int:
    from inkshadow.engine.transformers_engine import TransformersEngine
    from tests.conftest import tiny_model

    engine = TransformersEngine(Settings(model=str(tiny_model(family))))
    await engine.start()
    try:
        return (await collect(engine.stream(request))).usage.prompt_tokens
    finally:
        await engine.close()


@pytest.mark.parametrize("family", [Family.QWEN2_5_VL, Family.QWEN3_VL])
async def test_vllm_sees_what_the_in_process_engine_sees(
    family: Family, request: pytest.FixtureRequest
) -> None:
    """The same sampled frames, 100 s into a video, through vLLM and through transformers
    with our inputs: the prompts are the same length — every frame, at our size (no resize
    or resampling upstream), and for Qwen3-VL the same `<t seconds>` markers."""
    server: VllmServer = request.getfixturevalue(
        "vllm_qwen3" if family is Family.QWEN3_VL else "vllm_qwen25"
    )
    part = q3_video(12, 3000) if family is Family.QWEN3_VL else video(12, fps=2.0)
    req = ask(part, TextPart("When does it change?"))
    async with remote(server.url) as engine:
        upstream = await prompt_tokens(engine, req)
    assert upstream == await _in_process_prompt_tokens(family, req)
