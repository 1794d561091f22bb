"""OpenAI-compatible routes: /v1/chat/completions, /v1/models, and the guides' /generate."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from inkshadow.api.errors import error_body
from inkshadow.api.params import sampling
from inkshadow.api.schemas import ChatCompletionRequest, ChatMessage, GenerateRequest
from inkshadow.api.state import AppState
from inkshadow.engine.types import (
    Chunk,
    GenerationRequest,
    Message,
    SamplingParams,
    TextPart,
    Usage,
)
from inkshadow.errors import (
    EngineError,
    InkshadowError,
    InvalidRequest,
    ModelNotFound,
    ServiceUnavailable,
)
from inkshadow.logs import request_id_var

router = APIRouter()


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ink
    return state


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    info = _state(request).engine.info
    return {
        "object": "list",
        "data": [
            {
                "id": info.model,
                "object": "model",
                "created": 0,
                "owned_by": "inkshadow",
                "max_model_len": info.max_model_len,
                "family": info.family.value,
                "engine": info.engine,
                "random_weights": info.tiny,
            }
        ],
    }


class _Tracked:
    """One generation: its chunks, with time to first token and totals sent to metrics."""

    def __init__(self, state: AppState, chunks: AsyncIterator[Chunk]) -> None:
        self.state = state
        self.chunks = chunks
        self.started = time.perf_counter()
        self.first_seen = False

    async def first(self) -> Chunk | None:
        """Wait for the first chunk so that errors before generation starts become JSON."""
        try:
            return self._observe(await anext(self.chunks))
        except StopAsyncIteration:
            return None

    def _observe(self, chunk: Chunk) -> Chunk:
        m = self.state.metrics
        if chunk.text and not self.first_seen:
            self.first_seen = True
            m.ttft.observe(time.perf_counter() - self.started)
        if chunk.usage is not None:
            m.prompt_tokens.inc(chunk.usage.prompt_tokens)
            m.generated_tokens.inc(chunk.usage.completion_tokens)
            m.batch_size.observe(chunk.batch_size)
        return chunk

    async def rest(self) -> AsyncIterator[Chunk]:
        async for chunk in self.chunks:
            yield self._observe(chunk)


async def _generate(
    state: AppState, messages: tuple[Message, ...], params: SamplingParams
) -> _Tracked:
    request = GenerationRequest(messages, params, request_id_var.get())
    tracked = _Tracked(state, state.engine.stream(request))
    return tracked


class _Session:
    """The server-side history of a conversation named by `session_id`, if any."""

    def __init__(self, state: AppState, tenant: str, session_id: str | None) -> None:
        self.state, self.tenant, self.session_id = state, tenant, session_id

    @classmethod
    def open(cls, state: AppState, request: Request, session_id: str | None) -> _Session:
        tenant = str(getattr(request.state, "tenant", "anonymous"))
        if session_id is not None and state.sessions is None:
            raise ServiceUnavailable("chat sessions are not configured on this server")
        return cls(state, tenant, session_id)

    async def history(self) -> list[ChatMessage]:
        if self.session_id is None or self.state.sessions is None:
            return []
        stored = await self.state.sessions.history(self.tenant, self.session_id)
        return [ChatMessage.model_validate(m) for m in stored]

    def saver(self, new: list[ChatMessage]) -> Callable[[str], Awaitable[None]]:
        async def save(answer: str) -> None:
            if self.session_id is None or self.state.sessions is None:
                return
            turn = [m.model_dump(mode="json", exclude_none=True, by_alias=True) for m in new]
            turn.append({"role": "assistant", "content": answer})
            await self.state.sessions.append(self.tenant, self.session_id, turn)

        return save


def _check_model(state: AppState, name: str | None) -> None:
    if name and name != state.engine.info.model:
        raise ModelNotFound(
            f"model {name!r} is not served here; this server serves {state.engine.info.model!r}",
            param="model",
        )


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request
) -> Response | dict[str, Any]:
    state = _state(request)
    _check_model(state, body.model)
    both = body.max_tokens is not None and body.max_completion_tokens is not None
    if both and body.max_tokens != body.max_completion_tokens:
        raise InvalidRequest(
            "give max_tokens or max_completion_tokens, not both", param="max_tokens"
        )
    params = sampling(
        max_tokens=body.max_completion_tokens or body.max_tokens,
        default_max_tokens=state.settings.default_max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=body.stop,
        fmt=body.response_format,
    )
    session = _Session.open(state, request, body.session_id)
    history = await session.history()
    messages = await state.media.messages([*history, *body.messages], state.engine.info.family)
    tracked = await _generate(state, messages, params)
    first = await tracked.first()
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = state.engine.info.model
    if body.stream:
        return StreamingResponse(
            _sse(tracked, first, completion_id, created, model, session.saver(body.messages)),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    text, finish, usage, batch = [], "stop", Usage(0, 0), 1
    async for chunk in _chain(first, tracked):
        text.append(chunk.text)
        if chunk.finish_reason:
            finish = chunk.finish_reason
        if chunk.usage:
            usage, batch = chunk.usage, chunk.batch_size
    await session.saver(body.messages)("".join(text))
    payload = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(text)},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": _usage(usage),
    }
    if body.session_id:
        payload["session_id"] = body.session_id
    return JSONResponse(payload, headers={"x-inkshadow-batch-size": str(batch)})


async def _chain(first: Chunk | None, tracked: _Tracked) -> AsyncIterator[Chunk]:
    if first is not None:
        yield first
        async for chunk in tracked.rest():
            yield chunk


async def _sse(
    tracked: _Tracked,
    first: Chunk | None,
    cid: str,
    created: int,
    model: str,
    save: Callable[[str], Awaitable[None]],
) -> AsyncIterator[bytes]:
    def event(delta: dict[str, Any], finish: str | None) -> bytes:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"

    yield event({"role": "assistant", "content": ""}, None)
    answer: list[str] = []
    try:
        async for chunk in _chain(first, tracked):
            answer.append(chunk.text)
            if chunk.text or chunk.finish_reason:
                yield event({"content": chunk.text} if chunk.text else {}, chunk.finish_reason)
            if chunk.usage is not None:
                usage = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": _usage(chunk.usage),
                }
                yield b"data: " + json.dumps(usage).encode() + b"\n\n"
        await save("".join(answer))
    except InkshadowError as exc:
        # Headers are gone: the client gets an error event, never a silently cut answer.
        tracked.state.metrics.errors.labels(exc.type, exc.code or "").inc()
        err = error_body(exc.message, exc.type, exc.code, exc.param)
        yield b"data: " + json.dumps(err).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


@router.post("/generate", response_model=None)
async def generate(body: GenerateRequest, request: Request) -> Response:
    state = _state(request)
    params = sampling(
        max_tokens=body.max_tokens,
        default_max_tokens=state.settings.default_max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=body.stop,
        fmt=body.response_format,
    )
    messages = (Message("user", (TextPart(body.prompt),)),)
    tracked = await _generate(state, messages, params)
    first = await tracked.first()
    parts: list[str] = []
    usage, finish = Usage(0, 0), "stop"
    async for chunk in _chain(first, tracked):
        parts.append(chunk.text)
        if chunk.usage:
            usage = chunk.usage
        if chunk.finish_reason:
            finish = chunk.finish_reason
    text = "".join(parts)
    payload: dict[str, Any] = {
        "text": text,
        "finish_reason": finish,
        "usage": _usage(usage),
        "model": state.engine.info.model,
    }
    if params.response_format is not None:
        payload["result"] = _parse_json(text, finish)
    return JSONResponse(payload)


def _parse_json(text: str, finish: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if finish == "length":
            raise InvalidRequest(
                "max_tokens ran out before the structured answer was complete; raise max_tokens",
                param="max_tokens",
                code="incomplete_structured_output",
            ) from exc
        raise EngineError("the engine returned a structured answer that does not parse") from exc
