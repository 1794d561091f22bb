"""data: URLs: strict form, size judged on the encoded length before decoding."""

from __future__ import annotations

import base64

import pytest

from inkshadow.errors import MediaError, MediaTooLarge
from inkshadow.media.dataurl import decode_data_url, is_data_url


def test_good_data_url() -> None:
    payload = bytes(range(256))
    url = "data:image/png;base64," + base64.b64encode(payload).decode()
    decoded = decode_data_url(url, 1024)
    assert decoded.data == payload
    assert decoded.content_type == "image/png"


def test_case_parameters_and_wrapped_lines() -> None:
    encoded = base64.b64encode(b"hello world, wrapped").decode()
    wrapped = encoded[:8] + "\r\n" + encoded[8:]
    decoded = decode_data_url(f"DATA:Image/JPEG;name=a.jpg;BASE64,{wrapped}", 1024)
    assert decoded.data == b"hello world, wrapped"
    assert decoded.content_type == "image/jpeg"
    assert is_data_url("Data:x/y;base64,AA==")
    assert not is_data_url("http://example.com/")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("data:image/png;base64", "','"),
        ("data:image/png,aGVsbG8=", "only base64"),
        ("data:,aGVsbG8=", "only base64"),
        ("data:;base64,aGVsbG8=", "media type"),
        ("data:png;base64,aGVsbG8=", "media type"),
        ("data:image/png;base64,", "empty"),
        ("data:image/png;base64,aGVsbG8", "not valid base64"),  # missing padding
        ("data:image/png;base64,aGV$bG8=", "not valid base64"),
        ("data:image/png;base64,aGVsbG8=\u00e9", "not valid base64"),
        ("data:image/png;base64,aGVs-G8_", "not valid base64"),  # url-safe alphabet
    ],
)
def test_malformed(url: str, fragment: str) -> None:
    with pytest.raises(MediaError) as caught:
        decode_data_url(url, 1024)
    assert not isinstance(caught.value, MediaTooLarge)
    assert fragment in caught.value.message


def test_cap_at_the_boundary() -> None:
    assert decode_data_url("data:a/b;base64,AAAA", 3).data == b"\0\0\0"
    with pytest.raises(MediaTooLarge):
        decode_data_url("data:a/b;base64,AAAA", 2)
    with pytest.raises(MediaTooLarge):
        decode_data_url("data:a/b;base64,AAAAAA==", 3)  # 4 bytes, 8 characters


def test_cap_checked_before_decoding() -> None:
    # Not even valid base64: refusing it as too large shows the payload was never decoded.
    with pytest.raises(MediaTooLarge, match="1000 byte"):
        decode_data_url("data:image/png;base64," + "!" * 10_000_000, 1000)
    with pytest.raises(MediaTooLarge):
        decode_data_url("data:image/png;base64," + " " * 10_000_000, 1000)
