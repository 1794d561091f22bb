"""The UI end to end: a real API serving a tiny Qwen2.5-VL, a real job worker, the UI as
its own process, and headless Chromium (Debian's, driven by Playwright) on the page.

Screenshots land in artifacts/ui/ (ignored by git) for people to look at."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from inkshadow.families import Family
from tests.conftest import REPO, ServerProcess, free_port, start_server, stop_server, tiny_model
from tests.media.videos import make_video

if TYPE_CHECKING:  # imported where used: the test modules skip when Playwright is missing
    from playwright.sync_api import Browser, Request, ViewportSize
    from playwright.sync_api import Page as PwPage

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "ui"
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
# Short chunks so that a 10 s video is a "long" job of several chunks with visible progress,
# while the 3 s analysis video stays one chunk.
CHUNKS = {"INKSHADOW_CHUNK_SECONDS": "4", "INKSHADOW_CHUNK_OVERLAP_S": "1"}


@dataclass
class Stack:
    api: ServerProcess
    ui: ServerProcess
    short_video: Path  # 3 s, 320x240
    long_video: Path  # 10 s, several job chunks
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _python(code: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not up in {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("ui")
    model = str(tiny_model(Family.QWEN2_5_VL))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INKSHADOW_DATA_DIR": str(root / "data"), **CHUNKS}
    # The job tables first, so the API and the worker start on a ready database.
    subprocess.run(
        [sys.executable, "-c", "import typer; from inkshadow.cli_jobs import "
         "db_upgrade_command as c; typer.run(c)"],
        cwd=REPO, env=env, check=True, capture_output=True,
    )  # fmt: skip
    worker_log = root / "worker.log"
    worker = _python(
        "import typer; from inkshadow.cli_jobs import worker_command as c; typer.run(c)",
        ["--model", model],
        env,
        worker_log,
    )
    api = start_server(["--model", model], root / "api.log", env=env)
    ui_port = free_port()
    ui_log = root / "ui.log"
    ui_proc = subprocess.Popen(
        [sys.executable, "-m", "inkshadow.ui", "--api", api.url, "--port", str(ui_port)],
        cwd=REPO, env=env, stdout=ui_log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    ui = ServerProcess(f"http://127.0.0.1:{ui_port}", ui_proc, ui_log)
    _wait(ui.url + "/healthz", ui_proc, ui_log)
    short = make_video(root / "short.mp4", frames=90, fps=30, width=320, height=240)
    long = make_video(root / "long.mp4", frames=300, fps=30, width=320, height=240)
    built = Stack(api, ui, short, long, [worker])
    yield built
    stop_server(ui)
    stop_server(api)
    worker.terminate()
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope, not session: Playwright's sync API keeps an event loop running in the
    # main thread while it is open, so any later test calling asyncio.run() would fail.
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Page:
    page: PwPage
    outside: list[str]  # requests that left loopback: the UI must make none

    def shot(self, name: str, full: bool = True) -> Path:
        # Not mid-update: Gradio dims outputs while an event runs.
        self.page.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid="status-tracker"]')]
                .every((t) => t.classList.contains('hide'))"""
        )
        self.page.wait_for_timeout(600)  # the fade-in after an update
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full)
        return path


@pytest.fixture
def ui_page(stack: Stack, browser: Browser) -> Iterator[Page]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    page = context.new_page()
    outside: list[str] = []

    def record(request: Request) -> None:
        url = request.url
        if not url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
            outside.append(url)

    page.on("request", record)
    page.set_default_timeout(30_000)
    page.goto(stack.ui.url + "/")
    # The status check on load fills the summary line: the page is live.
    page.locator("#ink-status-summary .ink-summary").wait_for()
    # The chat input opens once the page knows its session.
    expect(page.locator("#ink-chat-input textarea")).to_be_editable()
    yield Page(page, outside)
    context.close()
