"""An engine that forwards generation to an OpenAI-compatible upstream (vLLM, SGLang, TGI).

Frames are sampled and resized here, by inkshadow, exactly as for the in-process engine; the
upstream only runs the model. Videos travel as exactly our frames with per-request kwargs
that stop vLLM from sampling them again (see `clip.py`; vLLM needs
`--trust-request-mm-kwargs`).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from inkshadow.engine.clip import VideoUpload, video_upload
from inkshadow.engine.types import (
    Chunk,
    EngineInfo,
    FinishReason,
    GenerationRequest,
    ImagePart,
    JsonSchemaFormat,
    Message,
    SamplingParams,
    TextPart,
    Usage,
    VideoPart,
)
from inkshadow.errors import (
    InkshadowError,
    InvalidRequest,
    ModelNotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from inkshadow.families import Family
from inkshadow.settings import Settings

# After this many failed upstream calls in a row the engine reports itself dead, so health
# checks and the gateway stop sending work here; one success resets the count.
MAX_CONSECUTIVE_FAILURES = 3
_MESSAGE_LIMIT = 500  # characters of an upstream error message passed on to clients


class RemoteEngine:
    """`Engine` backed by an OpenAI-compatible `/v1/chat/completions` upstream."""

    def __init__(
        self,
        settings: Settings,
        *,
        family: Family | None = None,
        tiny: bool = False,
        start_timeout_s: float = 30.0,
    ) -> None:
        self._settings = settings
        self._family = family
        self._tiny = tiny
        self._start_timeout_s = start_timeout_s
        self._client: httpx.AsyncClient | None = None
        self._upstream_model: str = settings.upstream_model or ""
        self._max_model_len: int = settings.max_model_len
        self._failures = 0
        self._closed = False

    # --- Engine protocol --------------------------------------------------------------------

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            model=self._settings.model_name or self._upstream_model,
            family=self._family or guess_family(self._upstream_model),
            engine="remote",
            tiny=self._tiny,
            max_model_len=self._max_model_len,
        )

    async def start(self) -> None:
        url = self._settings.upstream_url
        if not url:
            raise ServiceUnavailable("the remote engine has no upstream URL configured")
        headers = {}
        if self._settings.upstream_api_key is not None:
            headers["Authorization"] = (
                f"Bearer {self._settings.upstream_api_key.get_secret_value()}"
            )
        timeout = self._settings.upstream_timeout_s
        client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        try:
            models = await self._wait_for_models(client)
            self._pick_model(models)
        except BaseException:
            await client.aclose()
            raise
        self._client = client
        self._closed = False
        self._failures = 0

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def alive(self) -> bool:
        return (
            self._client is not None
            and not self._closed
            and self._failures < MAX_CONSECUTIVE_FAILURES
        )

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        client = self._client
        if client is None:
            raise ServiceUnavailable("the remote engine is not started")
        # Build (and encode videos) off the event loop: x264 holds the CPU for a while.
        body = await asyncio.to_thread(self._body, request)
        try:
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._status_error(response)
                async for chunk in self._read_events(response):
                    yield chunk
        except httpx.TimeoutException as exc:
            self._failures += 1
            raise UpstreamError("the upstream model server timed out") from exc
        except httpx.TransportError as exc:
            self._failures += 1
            raise UpstreamError("the upstream model server connection failed") from exc
        self._failures = 0

    # --- start-up ---------------------------------------------------------------------------

    async def _wait_for_models(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """GET /v1/models until it answers; an upstream that is still loading gets a while."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._start_timeout_s
        while True:
            try:
                response = await client.get("/v1/models", timeout=5.0)
                if response.status_code == 200:
                    data = response.json().get("data")
                    if isinstance(data, list):
                        return [m for m in data if isinstance(m, dict) and m.get("id")]
                elif response.status_code in (401, 403):
                    raise ServiceUnavailable("the upstream model server refused our API key")
            except (httpx.HTTPError, ValueError):
                pass  # not up yet (or answering garbage while starting): try again
            if loop.time() >= deadline:
                raise ServiceUnavailable(
                    f"the upstream model server did not answer /v1/models within "
                    f"{self._start_timeout_s:g} s"
                )
            await asyncio.sleep(0.5)

    def _pick_model(self, models: list[dict[str, Any]]) -> None:
        if not models:
            raise ServiceUnavailable("the upstream model server lists no models")
        wanted = self._settings.upstream_model
        chosen = next((m for m in models if m["id"] == wanted), None) if wanted else models[0]
        if chosen is None:
            raise ModelNotFound(f"the upstream model server does not serve {wanted!r}")
        self._upstream_model = str(chosen["id"])
        if isinstance(chosen.get("max_model_len"), int):
            self._max_model_len = chosen["max_model_len"]
        if self._family is None:
            # vLLM's `root` is the checkpoint path or id: a second chance when `id` is a nickname
            self._family = guess_family(f"{chosen['id']} {chosen.get('root') or ''}")

    # --- request ----------------------------------------------------------------------------

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        videos = [p for m in request.messages for p in m.content if isinstance(p, VideoPart)]
        upload = video_upload(videos, self.info.family) if videos else VideoUpload((), {})
        urls = iter(upload.urls)
        return {
            "model": self._upstream_model,
            "messages": [_message(m, urls) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            **_sampling(request.params),
            **upload.request_fields,
        }

    # --- response ---------------------------------------------------------------------------

    async def _read_events(self, response: httpx.Response) -> AsyncIterator[Chunk]:
        """Turn the server-sent events of a streamed completion into Chunks.

        Text chunks are passed on as they come; the last Chunk carries the finish reason and
        usage, which arrive in separate events (usage after the finish, with no choices).
        """
        finish: FinishReason | None = None
        usage: Usage | None = None
        done = False
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # blank separators, comments, `event:` lines
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                event = json.loads(data)
            except ValueError:
                event = None
            if not isinstance(event, dict):
                self._failures += 1
                raise UpstreamError("the upstream model server sent a malformed event")
            if "error" in event:
                # Failed after it started answering; its message may name internals.
                self._failures += 1
                raise UpstreamError("the upstream model server failed mid-answer")
            if event.get("usage"):
                usage = Usage(
                    int(event["usage"].get("prompt_tokens") or 0),
                    int(event["usage"].get("completion_tokens") or 0),
                )
            for choice in event.get("choices") or ():
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    yield Chunk(text)
                if choice.get("finish_reason"):
                    finish = "length" if choice["finish_reason"] == "length" else "stop"
        if not done and finish is None:
            self._failures += 1
            raise UpstreamError("the upstream model server ended the stream early")
        yield Chunk("", finish_reason=finish or "stop", usage=usage or Usage(0, 0))

    def _status_error(self, response: httpx.Response) -> InkshadowError:
        status = response.status_code
        message = _error_text(_json_or_none(response)) or response.reason_phrase or "error"
        if status >= 500 or status in (401, 403):
            # Ours, not the client's: the upstream is broken, overloaded or misconfigured.
            self._failures += 1
            # Its message may name internals (paths, exceptions): pass on the status only.
            if status == 503:
                return ServiceUnavailable("the upstream model server is unavailable")
            return UpstreamError(f"the upstream model server failed ({status})")
        if "trust-request-mm-kwargs" in message:
            # A deployment mistake, not the client's: say how to fix the upstream.
            return UpstreamError(
                "the upstream vLLM refuses per-request video kwargs; start it with "
                "--trust-request-mm-kwargs so videos keep every sampled frame"
            )
        self._failures = 0  # it answered sensibly; the request was at fault
        if status == 404:
            return ModelNotFound(message)
        if status == 413:
            return PayloadTooLarge(message)
        if status == 429:
            retry = response.headers.get("retry-after", "")
            return RateLimited(message, retry_after=float(retry) if retry.isdigit() else 1.0)
        return InvalidRequest(message)


# --- pure helpers ---------------------------------------------------------------------------


def guess_family(model_name: str) -> Family:
    """The family a model name suggests; plain text Qwen when it names no vision family."""
    name = model_name.lower().replace("_", "-")
    if "qwen3-vl" in name:
        return Family.QWEN3_VL
    if "qwen2.5-vl" in name or "qwen2-5-vl" in name:
        return Family.QWEN2_5_VL
    return Family.QWEN2_5


def _message(message: Message, video_urls: Iterator[str]) -> dict[str, Any]:
    if all(isinstance(p, TextPart) for p in message.content):
        text = "".join(p.text for p in message.content if isinstance(p, TextPart))
        return {"role": message.role, "content": text}
    content: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            buffer = io.BytesIO()
            part.image.save(buffer, format="PNG")
            url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
            content.append({"type": "image_url", "image_url": {"url": url}})
        else:
            content.append({"type": "video_url", "video_url": {"url": next(video_urls)}})
    return {"role": message.role, "content": content}


def _sampling(params: SamplingParams) -> dict[str, Any]:
    out: dict[str, Any] = {
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
    }
    if params.seed is not None:
        out["seed"] = params.seed
    if params.stop:
        out["stop"] = list(params.stop)
    fmt = params.response_format
    if isinstance(fmt, JsonSchemaFormat):
        # The upstream validates the schema itself and answers 400, mapped to InvalidRequest.
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": fmt.name, "schema": fmt.schema, "strict": True},
        }
    elif fmt is not None:
        out["response_format"] = {"type": "json_object"}
    return out


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(payload: Any) -> str:
    """The message of an OpenAI-style error body (`{"error": {...}}` or vLLM's flat form)."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error", payload)
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or "")[:_MESSAGE_LIMIT]
