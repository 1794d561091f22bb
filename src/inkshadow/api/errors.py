"""The one place where errors become HTTP responses, in OpenAI's error shape.

Messages that reach clients come from our own exception texts or from a fixed wording;
never from tracebacks, reprs, file paths or third-party exception text.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inkshadow.errors import InkshadowError, RateLimited, ServiceUnavailable
from inkshadow.logs import request_id_var

log = logging.getLogger(__name__)

_HTTP_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "forbidden"),
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "payload_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("rate_limit_error", "rate_limited"),
    503: ("server_error", "service_unavailable"),
}


def error_body(
    message: str, type_: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(exc: InkshadowError) -> JSONResponse:
    headers = {"x-request-id": request_id_var.get()}
    if isinstance(exc, RateLimited | ServiceUnavailable):
        headers["retry-after"] = str(max(1, round(exc.retry_after)))
    return JSONResponse(
        error_body(exc.message, exc.type, exc.code, exc.param), exc.status, headers=headers
    )


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "the request body is invalid", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    param = ".".join(loc) or None
    msg = str(first.get("msg", "invalid value"))
    return (f"{param}: {msg}" if param else msg), param


def install_error_handlers(app: FastAPI, on_error: Any = None) -> None:
    """Map every exception to an OpenAI error body. `on_error(type, code)` counts them."""

    def count(type_: str, code: str | None) -> None:
        if on_error is not None:
            on_error(type_, code)

    @app.exception_handler(InkshadowError)
    async def _ink(_: Request, exc: InkshadowError) -> JSONResponse:
        count(exc.type, exc.code)
        if exc.status >= 500:
            log.warning("request failed: %s", exc.message)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        count("invalid_request_error", "invalid_request")
        return JSONResponse(
            error_body(message, "invalid_request_error", "invalid_request", param),
            400,
            headers={"x-request-id": request_id_var.get()},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_, code = _HTTP_TYPES.get(exc.status_code, ("server_error", None))
        count(type_, code)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            message = "no such route"
        return JSONResponse(
            error_body(message, type_, code),
            exc.status_code,
            headers={"x-request-id": request_id_var.get()},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        count("server_error", "internal_error")
        return JSONResponse(
            error_body(
                f"internal error (request id {request_id_var.get()})",
                "server_error",
                "internal_error",
            ),
            500,
            headers={"x-request-id": request_id_var.get()},
        )
