"""A real vLLM (CPU) server on loopback, serving a tiny model, for the remote engine's tests.

The server runs from the separate venv `scripts/setup_vllm.sh` builds (vLLM pins its own
torch and transformers). CI must run these tests: a missing venv fails them, unless
INKSHADOW_TEST_SKIP_VLLM=1 says to skip on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from inkshadow.families import Family

REPO = Path(__file__).resolve().parents[2]
VLLM_VENV = Path(os.environ.get("VLLM_VENV", REPO / ".venv-vllm"))
VLLM_START_TIMEOUT_S = 240.0  # measured 35-100 s on 2 busy cores with --enforce-eager


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class VllmServer:
    url: str
    model: str  # the id vLLM lists: the model folder
    proc: subprocess.Popen[bytes]
    log: Path
    startup_s: float

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def _vllm_python() -> Path:
    python = VLLM_VENV / "bin" / "python"
    if python.exists():
        return python
    reason = f"no vLLM venv at {VLLM_VENV}: run scripts/setup_vllm.sh"
    if os.environ.get("INKSHADOW_TEST_SKIP_VLLM") == "1":
        pytest.skip(reason)
    pytest.fail(reason + " (or set INKSHADOW_TEST_SKIP_VLLM=1 to skip these tests)")


def start_vllm(model_dir: Path, log: Path) -> VllmServer:
    python = _vllm_python()
    port = _free_port()
    args = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        *("--model", str(model_dir)),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--dtype", "float32"),
        # 40 frames of the smallest video the tiny processor keeps as-is need ~2.9k tokens
        *("--max-model-len", "4096"),
        "--enforce-eager",  # skips ~60 s of inductor compilation at start-up
        # per-request media_io_kwargs / mm_processor_kwargs: how videos keep every frame
        "--trust-request-mm-kwargs",
        "--structured-outputs-config",
        '{"backend":"guidance","disable_any_whitespace":true}',
    ]
    env = {
        **os.environ,
        "VLLM_CPU_OMP_THREADS_BIND": "0-1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    started = time.monotonic()
    with log.open("wb") as handle:
        proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = VllmServer(f"http://127.0.0.1:{port}", str(model_dir), proc, log, 0.0)
    deadline = started + VLLM_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM exited early:\n{server.logs()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/v1/models", timeout=2).status_code == 200:
                server.startup_s = time.monotonic() - started
                return server
        time.sleep(0.5)
    stop_vllm(server)
    raise RuntimeError(f"vLLM not ready in {VLLM_START_TIMEOUT_S:g} s:\n{server.logs()[-4000:]}")


def stop_vllm(server: VllmServer) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def vllm_qwen25(
    tiny_models: Callable[[Family], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    """vLLM serving a tiny Qwen2.5-VL; its folder name lets the engine guess the family."""
    model_dir = tiny_models(Family.QWEN2_5_VL)
    log = tmp_path_factory.mktemp("vllm") / "qwen2.5-vl.log"
    server = start_vllm(model_dir, log)
    print(f"\nvLLM start-up: {server.startup_s:.1f} s")
    yield server
    stop_vllm(server)


class TcpProxy:
    """A loopback TCP relay in front of the upstream, to pull the plug on it mid-test.

    `cut_after` bytes of upstream answer per connection are relayed, then both sides are
    dropped: a response torn off mid-stream, as when an upstream process dies.
    """

    def __init__(self, target: str, *, cut_after: int | None = None) -> None:
        host, port = target.removeprefix("http://").split(":")
        self._target = (host, int(port))
        self._cut_after = cut_after
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.url = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, limit: int | None):
            sent = 0
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if limit is not None and sent + len(data) > limit:
                        dst.write(data[: limit - sent])
                        await dst.drain()
                        break
                    sent += len(data)
                    dst.write(data)
                    await dst.drain()
            writer.transport.abort()
            up_writer.transport.abort()

        await asyncio.gather(
            pipe(reader, up_writer, None), pipe(up_reader, writer, self._cut_after)
        )
        self._writers -= {writer, up_writer}


@contextlib.asynccontextmanager
async def tcp_proxy(target: str, *, cut_after: int | None = None) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(target, cut_after=cut_after)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture(scope="session")
def vllm_qwen3(
    tiny_models: Callable[[Family], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    """vLLM serving a tiny Qwen3-VL, started only when a test asks for it."""
    model_dir = tiny_models(Family.QWEN3_VL)
    log = tmp_path_factory.mktemp("vllm") / "qwen3-vl.log"
    server = start_vllm(model_dir, log)
    print(f"\nvLLM (qwen3-vl) start-up: {server.startup_s:.1f} s")
    yield server
    stop_vllm(server)
