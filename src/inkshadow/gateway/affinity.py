"""Affinity keys read from a request without decoding its JSON.

Bodies may carry megabytes of base64 media, so keys come from a bytes scan with compiled
regular expressions (C speed, no object tree). Media key: every `file_id` and media URL in
the body (a `data:` URL counts by a prefix of its bytes plus its length: cheap, and two
different uploads of the same size rarely share the first 4 KiB) together with the sampling
parameters, because the same video sampled differently yields different frames.
"""

from __future__ import annotations

import re

_FILE_ID = re.compile(rb'"file_id"\s*:\s*"([^"\\]{1,512})"')
_URL = re.compile(
    rb'"(?:url|video_url|image_url|video|image)"\s*:\s*"((?:https?|s3|gs|file|data):)'
)
_SAMPLING = re.compile(
    rb'"(fps|max_frames|nframes|min_frames|start|end|start_s|end_s|video_start|video_end|'
    rb'max_pixels|min_pixels|total_pixels)"\s*:\s*(-?[0-9][0-9.eE+-]{0,30}|null)'
)
_SESSION_FIELD = re.compile(rb'"(session_id|user)"\s*:\s*"([^"\\]{1,512})"')
_DATA_PREFIX = 4096
_URL_MAX = 4096


def media_key(body: bytes) -> bytes | None:
    """A key naming the media and sampling of a request, or None when it has no media."""
    if not body or (b"url" not in body and b"file_id" not in body and b'"video' not in body):
        return None
    parts: list[bytes] = [b"f:" + m.group(1) for m in _FILE_ID.finditer(body)]
    for match in _URL.finditer(body):
        start = match.start(1)
        end = body.find(b'"', start)
        if end < 0:
            continue
        if match.group(1) == b"data:":
            length = end - start
            parts.append(b"d:%d:" % length + body[start : start + min(length, _DATA_PREFIX)])
        else:
            url = body[start : min(end, start + _URL_MAX)].replace(b"\\/", b"/")
            parts.append(b"u:" + url)
    if not parts:
        return None
    params = sorted(set(_SAMPLING.findall(body)))
    for name, value in params:
        parts.append(b"p:" + name + b"=" + value)
    return b"\n".join(parts)


def cookie_value(cookie_header: bytes, name: bytes) -> bytes | None:
    for item in cookie_header.split(b";"):
        key, sep, value = item.strip().partition(b"=")
        if sep and key == name and value:
            return value.strip(b'"')
    return None


def session_key(
    headers: list[tuple[bytes, bytes]], body: bytes, header_name: bytes, cookie_name: bytes
) -> bytes | None:
    """Session from the configured header, else cookie, else `session_id`/`user` in JSON."""
    cookie: bytes | None = None
    for name, value in headers:
        if name == header_name and value:
            return b"h:" + value
        if name == b"cookie":
            cookie = cookie_value(value, cookie_name) or cookie
    if cookie:
        return b"c:" + cookie
    if body and (b"session_id" in body or b'"user"' in body):
        found: dict[bytes, bytes] = dict(_SESSION_FIELD.findall(body[:65536]))
        named = found.get(b"session_id") or found.get(b"user")
        if named:
            return b"s:" + named
    return None
