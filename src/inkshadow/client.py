"""An HTTP client of the inkshadow API, the same calls any client makes: used by the web UI
and by `inkshadow analyze --server`.

Every failure becomes an `ApiError` carrying a plain message (the `error.message` of the
OpenAI error body, or a fixed wording), so callers can show it as is; a route the server
does not have becomes `NotAvailable`, so a caller can say "not available on this server".
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Generation and analysis can take minutes on CPU; connecting should not.
_TIMEOUT = httpx.Timeout(900.0, connect=5.0)


class ApiError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotAvailable(ApiError):
    """The server has no such route (an older or partial API)."""

    def __init__(self, route: str) -> None:
        super().__init__(f"{route} is not available on this server", 404)
        self.route = route


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"the API answered HTTP {response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return f"the API answered HTTP {response.status_code}"


def _is_missing_route(response: httpx.Response) -> bool:
    # Our API answers unknown routes with this fixed wording; a missing resource (a session
    # or job id) is a 404 with another message.
    if response.status_code == 405:
        return True
    return response.status_code == 404 and _message(response) in {"no such route", "Not Found"}


@dataclass(frozen=True)
class ModelInfo:
    id: str
    engine: str
    family: str
    random_weights: bool


class ApiClient:
    """Talks to one inkshadow API. A fresh connection pool per call keeps it free of event
    loop ties (Gradio runs handlers on its own loop and threads); a UI's or CLI's rate is
    low."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=_TIMEOUT, trust_env=False
        )

    async def _request(self, method: str, route: str, label: str, **kwargs: Any) -> httpx.Response:
        try:
            async with self._client() as client:
                response = await client.request(method, route, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.base_url}") from exc
        return self._check(response, f"{method} {label}")

    def _check(self, response: httpx.Response, label: str) -> httpx.Response:
        if response.is_success:
            return response
        if _is_missing_route(response):
            raise NotAvailable(label)
        raise ApiError(_message(response), response.status_code)

    async def _json(self, method: str, route: str, label: str, **kwargs: Any) -> Any:
        """`label` names the route in messages (the template, not an id)."""
        response = await self._request(method, route, label, **kwargs)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(f"the API sent a body that is not JSON ({label})") from exc

    # --- status -----------------------------------------------------------------------------
    async def model(self) -> ModelInfo:
        body = await self._json("GET", "/v1/models", "/v1/models")
        first = (body.get("data") or [{}])[0]
        return ModelInfo(
            id=str(first.get("id", "")),
            engine=str(first.get("engine", "")),
            family=str(first.get("family", "")),
            random_weights=bool(first.get("random_weights", False)),
        )

    async def probe(self, route: str) -> tuple[int, dict[str, Any]]:
        """Status code and JSON body of a probe (/health, /ready); 0 when unreachable."""
        try:
            async with self._client() as client:
                response = await client.get(route, timeout=5.0)
        except httpx.HTTPError:
            return 0, {}
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}

    # --- media --------------------------------------------------------------------------------
    async def upload(self, path: Path) -> str:
        """POST /v1/files; the file's id (`file-<sha256>`)."""
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, mime)}
            body = await self._json(
                "POST", "/v1/files", "/v1/files", files=files, data={"purpose": "vision"}
            )
        return str(body["id"])

    # --- chat ---------------------------------------------------------------------------------
    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[str]:
        """Stream the answer's text deltas of POST /v1/chat/completions."""
        route = "/v1/chat/completions"
        try:
            async with (
                self._client() as client,
                client.stream("POST", route, json={**body, "stream": True}) as response,
            ):
                if not response.is_success:
                    await response.aread()
                    self._check(response, f"POST {route}")
                async for line in response.aiter_lines():
                    delta = _sse_delta(line)
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise ApiError(f"the connection to the API broke: {type(exc).__name__}") from exc

    async def session(self, session_id: str) -> dict[str, Any]:
        body = await self._json("GET", f"/v1/sessions/{session_id}", "/v1/sessions/{id}")
        return dict(body)

    async def delete_session(self, session_id: str) -> None:
        await self._request("DELETE", f"/v1/sessions/{session_id}", "/v1/sessions/{id}")

    # --- analysis and jobs --------------------------------------------------------------------
    async def analyze(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self._json("POST", "/v1/video/analyze", "/v1/video/analyze", json=body))

    async def submit_job(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self._json("POST", "/v1/jobs", "/v1/jobs", json=body))

    async def job(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json("GET", f"/v1/jobs/{job_id}", "/v1/jobs/{id}"))

    async def job_result(self, job_id: str) -> dict[str, Any]:
        route = f"/v1/jobs/{job_id}/result"
        return dict(await self._json("GET", route, "/v1/jobs/{id}/result"))

    async def jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        body = await self._json("GET", f"/v1/jobs?limit={limit}", "/v1/jobs")
        return list(body.get("data") or [])


def _sse_delta(line: str) -> str:
    """The text of one server-sent event line; an error event raises its message."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return ""
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        return ""
    if not isinstance(event, dict):
        return ""
    if isinstance(event.get("error"), dict):
        raise ApiError(str(event["error"].get("message", "the answer stopped with an error")))
    choices = event.get("choices") or []
    if not choices:
        return ""
    content = (choices[0].get("delta") or {}).get("content")
    return content if isinstance(content, str) else ""
