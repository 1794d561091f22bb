"""Bad input gets a clear 4xx in OpenAI's error shape, with no internals, and nothing leaks."""

from __future__ import annotations

import base64
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from inkshadow.families import Family
from tests.api.media_payloads import png_data_url
from tests.conftest import ServerProcess, start_server, stop_server, tiny_model

INTERNALS = ("Traceback", "/work", "/root", "site-packages", " at 0x", 'File "')


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["code"] == code, err
    for marker in INTERNALS:
        assert marker not in resp.text, resp.text
    assert resp.headers.get("x-request-id")
    return dict(err)


def post(server: ServerProcess, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(server.url + "/v1/chat/completions", json=body, timeout=60, **kw)


def image_msg(url: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


def test_malformed_json(vl_server: ServerProcess) -> None:
    resp = httpx.post(
        vl_server.url + "/v1/chat/completions",
        content=b'{"messages": [',
        headers={"content-type": "application/json"},
    )
    assert_error(resp, 400, "invalid_request")


def test_unknown_model(vl_server: ServerProcess) -> None:
    body = {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}
    err = assert_error(post(vl_server, body), 404, "model_not_found")
    assert err["param"] == "model"


@pytest.mark.parametrize(
    "patch",
    [
        {"max_tokens": -1},
        {"max_tokens": 0},
        {"temperature": 5},
        {"messages": []},
        {"n": 2},
        {"max_tokens": 10_000_000},
        {"response_format": {"type": "json_schema"}},
        {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": 5}}}},
        {"stop": ["a", "b", "c", "d", "e"]},
    ],
)
def test_bad_parameters(vl_server: ServerProcess, patch: dict[str, Any]) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 4, **patch}
    assert_error(post(vl_server, body), 400)


def test_too_many_media_parts(vl_server: ServerProcess) -> None:
    url = png_data_url(28, 28)
    content = [{"type": "image_url", "image_url": {"url": url}} for _ in range(5)]
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 2}
    err = assert_error(post(vl_server, body), 400)
    assert "limit is 4" in err["message"]


def test_corrupt_image(vl_server: ServerProcess) -> None:
    junk = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 500).decode()
    assert_error(post(vl_server, {"messages": [image_msg(junk)], "max_tokens": 2}), 400)


def test_corrupt_video(vl_server: ServerProcess) -> None:
    junk = "data:video/mp4;base64," + base64.b64encode(b"\x00\x00\x00\x18ftypmp42" * 50).decode()
    msg = {"role": "user", "content": [{"type": "video_url", "video_url": {"url": junk}}]}
    assert_error(post(vl_server, {"messages": [msg], "max_tokens": 2}), 400)


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring a huge image, with a tiny body: decoding it would need
    width*height*3 bytes; reading its header needs nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_image_bomb_rejected_from_header(vl_server: ServerProcess) -> None:
    bomb = "data:image/png;base64," + base64.b64encode(_png_bomb(60000, 60000)).decode()
    err = assert_error(post(vl_server, {"messages": [image_msg(bomb)], "max_tokens": 2}), 400)
    assert err["code"] == "image_too_large"


def test_oversize_declared_body(vl_server: ServerProcess) -> None:
    resp = httpx.post(
        vl_server.url + "/v1/chat/completions",
        content=b"x" * (9 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert_error(resp, 413)


def test_oversize_streamed_body_is_cut_while_streaming(vl_server: ServerProcess) -> None:
    """No Content-Length: the server answers 413 once the cap is passed, while the body is
    still incomplete (the client never finishes sending it)."""
    host, port = vl_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b"a" * (1024 * 1024)
        for _ in range(9):  # 9 MiB > the 8 MiB cap; the terminating chunk is never sent
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        response = b""
        while b"\r\n\r\n" not in response:
            data = sock.recv(65536)
            if not data:
                break
            response += data
    assert response.startswith(b"HTTP/1.1 413"), response[:200]


class _Canary(ThreadingHTTPServer):
    hits: list[str]


class _CanaryHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Canary)
        server.hits.append(self.path)
        body = base64.b64decode(png_data_url(28, 28).split(",", 1)[1])
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def canary() -> Iterator[_Canary]:
    server = _Canary(("127.0.0.1", 0), _CanaryHandler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_media_urls_to_private_addresses_never_fetched(
    vl_server: ServerProcess, canary: _Canary
) -> None:
    port = canary.server_address[1]
    for url in (
        f"http://127.0.0.1:{port}/a.png",
        f"http://127.1:{port}/b.png",
        f"http://2130706433:{port}/c.png",
        f"http://localhost:{port}/d.png",
        f"http://allowed\\@127.0.0.1:{port}/e.png",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ):
        err = assert_error(post(vl_server, {"messages": [image_msg(url)], "max_tokens": 2}), 400)
        assert err["code"] in {"unsafe_url", "invalid_media"}, (url, err)
    assert canary.hits == []


def test_api_keys(tmp_path: Path, canary: _Canary) -> None:
    secret = "sk-canary-7f3a9b1c5d"
    server = start_server(
        ["--model", str(tiny_model(Family.QWEN2_5))],
        tmp_path / "auth.log",
        env={"INKSHADOW_API_KEYS": f"other-key,{secret}"},
    )
    try:
        body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
        assert_error(post(server, body), 401, "invalid_api_key")
        assert_error(post(server, body, headers={"authorization": "Bearer nope"}), 401)
        assert_error(httpx.get(server.url + "/v1/models"), 401)
        ok = post(server, body, headers={"authorization": f"Bearer {secret}"})
        assert ok.status_code == 200, ok.text
        for probe in ("/health", "/healthz", "/ready", "/metrics"):
            assert httpx.get(server.url + probe).status_code == 200
    finally:
        stop_server(server)
    assert secret not in server.logs()
