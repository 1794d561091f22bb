"""One exception tree. The API maps it to OpenAI-style error bodies in one place
(`inkshadow.api.errors`); messages here are written for clients, so they must never carry
paths, tracebacks or memory addresses."""

from __future__ import annotations


class InkshadowError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(InkshadowError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationError(InkshadowError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(InkshadowError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(InkshadowError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class UnprocessableEntity(InkshadowError):
    status = 422
    type = "invalid_request_error"
    code = "unprocessable_entity"


class RateLimited(InkshadowError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: str | None) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServiceUnavailable(InkshadowError):
    status = 503
    type = "server_error"
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: str | None) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UpstreamError(InkshadowError):
    """The remote engine answered with an error or not at all."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"


class EngineError(InkshadowError):
    status = 500
    type = "server_error"
    code = "engine_error"


# Media errors: all client errors, raised by inkshadow.media.


class MediaError(InvalidRequest):
    code = "invalid_media"


class UnsafeURL(MediaError):
    code = "unsafe_url"


class MediaFetchError(MediaError):
    code = "media_fetch_failed"


class UnsupportedMedia(MediaError):
    code = "unsupported_media"


class MediaTooLarge(PayloadTooLarge):
    code = "media_too_large"


class ImageTooLarge(MediaError):
    code = "image_too_large"


class VideoTooLong(MediaError):
    code = "video_too_long"
