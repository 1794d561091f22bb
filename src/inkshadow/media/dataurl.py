"""`data:<mime>;base64,<payload>` URLs: parsed strictly, size-checked before decoding."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from inkshadow.errors import MediaError, MediaTooLarge

_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_WHITESPACE = str.maketrans("", "", " \t\r\n")


@dataclass(frozen=True)
class DataURL:
    content_type: str
    data: bytes


def is_data_url(url: str) -> bool:
    return url[:5].lower() == "data:"


def decode_data_url(url: str, max_bytes: int) -> DataURL:
    """Decode a base64 data URL holding at most `max_bytes` bytes."""
    if not is_data_url(url):
        raise MediaError("not a data: URL")
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise MediaError("data URL is missing the ',' before its payload")
    params = [p.strip() for p in header.split(";")]
    if len(params) < 2 or params[-1].lower() != "base64":
        raise MediaError("only base64 data URLs are supported: data:<mime>;base64,<payload>")
    mime = params[0].lower()
    if not _MIME.match(mime):
        raise MediaError("data URL needs a media type such as image/png before ';base64'")
    # Four encoded characters carry three bytes; refuse before allocating the decoded copy.
    # Whitespace some clients wrap lines with is allowed a little slack.
    encoded_cap = -(-max_bytes // 3) * 4
    if len(payload) > encoded_cap + encoded_cap // 16 + 64:
        raise MediaTooLarge(f"data URL payload is larger than the {max_bytes} byte limit")
    compact = payload.translate(_WHITESPACE)
    if not compact:
        raise MediaError("data URL payload is empty")
    if len(compact) > encoded_cap:
        raise MediaTooLarge(f"data URL payload is larger than the {max_bytes} byte limit")
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError("data URL payload is not valid base64") from exc
    if len(data) > max_bytes:
        raise MediaTooLarge(f"data URL payload is larger than the {max_bytes} byte limit")
    return DataURL(mime, data)
