"""`/v1/files` over HTTP: streamed uploads under a cap, content-addressed ids, and file ids
used wherever a media URL goes."""

from __future__ import annotations

import hashlib
import io
import socket
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import UPLOAD_CAP, VideoServer
from tests.api.test_abuse import assert_error
from tests.media.videos import make_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files")
    return make_video(root / "clip.mp4", frames=48, fps=24, width=160, height=120)


def upload(server: VideoServer, name: str, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/files",
        files={"file": (name, data, "application/octet-stream")},
        data=fields,
        timeout=60,
    )


def staging_is_empty(server: VideoServer) -> bool:
    return not any((server.data_dir / "blobs" / "tmp").iterdir())


def test_upload_get_delete(video_server: VideoServer, clip: Path) -> None:
    data = clip.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    resp = upload(video_server, "../../etc/clip.mp4", data, purpose="vision")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["id"] == f"file-{sha}"
    assert body["object"] == "file" and body["bytes"] == len(data)
    assert body["filename"] == "clip.mp4"  # no path parts kept
    assert body["purpose"] == "vision" and isinstance(body["created_at"], int)
    stored = video_server.data_dir / "blobs" / "objects" / sha[:2] / sha
    assert stored.read_bytes() == data
    # The same bytes again: the same file, as first named.
    again = upload(video_server, "other-name.mp4", data).json()
    assert again == body
    got = httpx.get(f"{video_server.url}/v1/files/{body['id']}")
    assert got.status_code == 200 and got.json() == body
    gone = httpx.delete(f"{video_server.url}/v1/files/{body['id']}")
    assert gone.json() == {"id": body["id"], "object": "file", "deleted": True}
    assert_error(httpx.get(f"{video_server.url}/v1/files/{body['id']}"), 404, "file_not_found")
    assert_error(httpx.delete(f"{video_server.url}/v1/files/{body['id']}"), 404)
    assert staging_is_empty(video_server)


@pytest.mark.parametrize("name", ["file-nothex", "file-" + "0" * 64, "x"])
def test_unknown_ids(video_server: VideoServer, name: str) -> None:
    assert_error(httpx.get(f"{video_server.url}/v1/files/{name}"), 404, "file_not_found")


def test_over_cap_declared(video_server: VideoServer) -> None:
    resp = upload(video_server, "big.bin", b"x" * (UPLOAD_CAP + 100 * 1024))
    assert_error(resp, 413, "media_too_large")
    assert staging_is_empty(video_server)


def test_over_cap_cut_while_streaming(video_server: VideoServer) -> None:
    """Chunked, no Content-Length: 413 once the file passes the cap, while the client is
    still sending; the partial file is gone."""
    host, port = video_server.url.removeprefix("http://").split(":")
    head = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=b0undary\r\n\r\n"
        )
        sock.sendall(b"%x\r\n" % len(head) + head + b"\r\n")
        piece = b"a" * (256 * 1024)
        response = b""
        sock.settimeout(0.05)
        for _ in range(UPLOAD_CAP // len(piece) + 8):  # never completes the body
            try:
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                response += sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                break
            if response:
                break
        sock.settimeout(30)
        while b"media_too_large" not in response:
            data = sock.recv(65536)
            if not data:
                break
            response += data
    assert response.startswith(b"HTTP/1.1 413"), response[:300]
    assert b"media_too_large" in response
    assert staging_is_empty(video_server)


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (
            b'--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
            "multipart/form-data; boundary=zz",
        ),
        (b"garbage", "multipart/form-data; boundary=zz"),
        (b'{"file": "x"}', "application/json"),
        (
            b'--zz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nvision\r\n--zz--\r\n',
            "multipart/form-data; boundary=zz",
        ),
    ],
)
def test_malformed_uploads(video_server: VideoServer, content: bytes, ctype: str) -> None:
    resp = httpx.post(
        video_server.url + "/v1/files", content=content, headers={"content-type": ctype}
    )
    assert_error(resp, 400)
    assert staging_is_empty(video_server)


def test_empty_file_and_bad_purpose(video_server: VideoServer) -> None:
    assert_error(upload(video_server, "e.mp4", b""), 400)
    assert_error(upload(video_server, "p.mp4", b"abc", purpose="nope"), 400)
    assert staging_is_empty(video_server)


def test_file_ids_in_chat(video_server: VideoServer, clip: Path) -> None:
    video_id = upload(video_server, "clip.mp4", clip.read_bytes()).json()["id"]
    buf = io.BytesIO()
    Image.fromarray(np.full((56, 56, 3), 90, np.uint8)).save(buf, "PNG")
    image_id = upload(video_server, "a.png", buf.getvalue()).json()["id"]
    content = [
        {"type": "video_url", "video_url": {"url": video_id, "fps": 2}},
        {"type": "image_url", "image_url": {"url": image_id}},
        {"type": "text", "text": "what?"},
    ]
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": 3}
    resp = httpx.post(video_server.url + "/v1/chat/completions", json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    missing = [{"type": "video_url", "video_url": {"url": "file-" + "1" * 64}}]
    body = {"messages": [{"role": "user", "content": missing}], "max_tokens": 3}
    err = assert_error(
        httpx.post(video_server.url + "/v1/chat/completions", json=body, timeout=60),
        404,
        "file_not_found",
    )
    assert err["param"] == "video_url"


def test_uploads_have_their_own_cap_above_the_body_cap(tmp_path: Path) -> None:
    """max_body_bytes bounds JSON bodies; an upload may be as large as upload_max_bytes."""
    from fastapi.testclient import TestClient

    from inkshadow.api.app import create_app
    from inkshadow.engine.transformers_engine import TransformersEngine
    from inkshadow.families import Family
    from inkshadow.settings import Settings
    from tests.conftest import tiny_model

    settings = Settings(
        model=str(tiny_model(Family.QWEN2_5)),
        data_dir=tmp_path,
        max_body_bytes=256 * 1024,
        upload_max_bytes=2 * 1024 * 1024,
    )
    payload = np.random.default_rng(0).bytes(1024 * 1024)
    with TestClient(create_app(settings, TransformersEngine(settings))) as client:
        got = client.post("/v1/files", files={"file": ("v.bin", payload)})
        assert got.status_code == 200, got.text
        assert got.json()["bytes"] == len(payload)
        body = {"messages": [{"role": "user", "content": "x" * (300 * 1024)}]}
        assert_error(client.post("/v1/chat/completions", json=body), 413)
        too_big = client.post("/v1/files", files={"file": ("w.bin", payload * 3)})
        assert_error(too_big, 413)
