"""Servers for the files and video routes: their own data dir (blobs, frame cache), small
caps so limits are cheap to pass, short chunks so long-video merging runs, and a loopback
HTTP server the fetcher is allowed to reach for URL inputs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from inkshadow.families import Family
from tests.conftest import ServerProcess, start_server, stop_server, tiny_model

UPLOAD_CAP = 3 * 1024 * 1024
BODY_CAP = 8 * 1024 * 1024
MAX_DURATION_S = 120.0
MAX_FRAME_PIXELS = 1_000_000


@dataclass
class VideoServer:
    server: ServerProcess
    data_dir: Path
    family: Family

    @property
    def url(self) -> str:
        return self.server.url


def _start(family: Family, root: Path) -> VideoServer:
    data = root / "data"
    env = {
        "INKSHADOW_DATA_DIR": str(data),
        "INKSHADOW_UPLOAD_MAX_BYTES": str(UPLOAD_CAP),
        "INKSHADOW_MAX_BODY_BYTES": str(BODY_CAP),
        "INKSHADOW_VIDEO_MAX_DURATION_S": str(MAX_DURATION_S),
        "INKSHADOW_IMAGE_MAX_PIXELS": str(MAX_FRAME_PIXELS),
        "INKSHADOW_FETCH_ALLOW_HOSTS": "127.0.0.1",
        "INKSHADOW_CHUNK_SECONDS": "6",
        "INKSHADOW_CHUNK_OVERLAP_S": "1",
        "INKSHADOW_CHUNK_MAX_FRAMES": "8",
        "INKSHADOW_VIDEO_MAX_FRAMES": "16",
        "INKSHADOW_DEFAULT_MAX_TOKENS": "48",
        # The runner gives an answer at most a quarter of the context: this keeps the tiny
        # models' noise (which never stops early) to ~600 tokens.
        "INKSHADOW_MAX_MODEL_LEN": "2560",
        "INKSHADOW_EXACT_RESIZE": "false",
    }
    server = start_server(
        ["--model", str(tiny_model(family))], root / f"{family.value}.log", env=env
    )
    return VideoServer(server, data, family)


@pytest.fixture(scope="session")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoServer]:
    srv = _start(Family.QWEN2_5_VL, tmp_path_factory.mktemp("video-serve"))
    yield srv
    stop_server(srv.server)


@pytest.fixture(scope="session")
def video_server_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoServer]:
    srv = _start(Family.QWEN3_VL, tmp_path_factory.mktemp("video-serve3"))
    yield srv
    stop_server(srv.server)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@dataclass
class MediaHost:
    root: Path
    base: str

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture(scope="session")
def media_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaHost]:
    """Files in `root`, served over HTTP on loopback (allowed by the servers above)."""
    root = tmp_path_factory.mktemp("media-host")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield MediaHost(root, f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.shutdown()
    httpd.server_close()
