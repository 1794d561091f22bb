"""What every engine takes and returns: decoded media, messages, parameters, results."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from inkshadow.families import Family


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    image: Image.Image  # RGB, already checked against the limits


@dataclass(frozen=True)
class VideoPart:
    """Frames sampled from a video, with the truth about where they came from.

    frames: uint8 array (T, H, W, 3), already resized to what the model should see.
    timestamps: seconds of each frame on the original timeline.
    indices: frame numbers in the source video.
    sample_fps: the sampling rate as qwen-vl-utils reports it (Qwen2.5-VL's MRoPE uses it).
    """

    frames: NDArray[np.uint8]
    timestamps: tuple[float, ...]
    indices: tuple[int, ...]
    sample_fps: float
    source_fps: float
    source_frames: int
    duration: float


ContentPart = TextPart | ImagePart | VideoPart
Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: tuple[ContentPart, ...]


@dataclass(frozen=True)
class JsonSchemaFormat:
    schema: dict[str, Any]
    name: str = "response"


@dataclass(frozen=True)
class JsonObjectFormat:
    pass


ResponseFormat = JsonSchemaFormat | JsonObjectFormat


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    response_format: ResponseFormat | None = None


FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[Message, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    request_id: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of a streamed answer. The last chunk has finish_reason and usage set."""

    text: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    batch_size: int = 1  # how many requests were generated together with this one


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: FinishReason
    usage: Usage
    batch_size: int = 1


@dataclass(frozen=True)
class EngineInfo:
    model: str  # name clients use
    family: Family
    engine: Literal["transformers", "remote"]
    tiny: bool  # a random-weight test model: its output is noise
    max_model_len: int


class Engine(Protocol):
    """An inference backend. Implementations: TransformersEngine, RemoteEngine."""

    @property
    def info(self) -> EngineInfo: ...

    async def start(self) -> None:
        """Load weights or connect; returns when ready to serve."""

    async def close(self) -> None: ...

    def alive(self) -> bool:
        """False once the engine can no longer serve (its loop died, its upstream is gone)."""

    def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Generate token by token. Raises inkshadow errors before the first chunk when the
        request cannot be served."""


async def collect(chunks: AsyncIterator[Chunk]) -> Generation:
    """Drain a stream into one Generation."""
    parts: list[str] = []
    finish: FinishReason = "stop"
    usage = Usage(0, 0)
    batch = 1
    async for chunk in chunks:
        parts.append(chunk.text)
        if chunk.finish_reason is not None:
            finish = chunk.finish_reason
        if chunk.usage is not None:
            usage = chunk.usage
        batch = max(batch, chunk.batch_size)
    return Generation("".join(parts), finish, usage, batch)
