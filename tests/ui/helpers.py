"""Steps the UI tests share: upload into a Gradio file input, pick a task, wait for a
result, read an image the page shows."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import Locator, Page, expect


def watch_chat(page: Page) -> None:
    """Record the conversation's text length at every change (window.inkLengths)."""
    page.evaluate(
        """() => { const box = document.querySelector('#ink-chat-bot'); window.inkLengths = [];
        window.inkSeen = -1;
        new MutationObserver(() => window.inkLengths.push(box.innerText.length))
          .observe(box, {subtree: true, childList: true, characterData: true}); }"""
    )


def wait_chat_settled(page: Page) -> list[int]:
    """Wait until the conversation has changed and then stayed still for a second."""
    page.wait_for_function(
        """() => { const n = window.inkLengths.length; const was = window.inkSeen;
        window.inkSeen = n; return n > 0 && was === n; }""",
        polling=1000,
        timeout=90_000,
    )
    lengths: list[int] = page.evaluate("() => window.inkLengths")
    return lengths


def upload(page: Page, elem_id: str, path: Path) -> None:
    page.set_input_files(f"#{elem_id} input[type=file]", str(path))


def wait_player(page: Page, elem_id: str) -> None:
    """The uploaded video is in the player and playable (metadata loaded)."""
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('#{elem_id} video');"
        " return v && v.readyState >= 1 && v.duration > 0; }"
    )


def choose(page: Page, scope: Locator, label: str, option: str) -> None:
    """Pick `option` in the dropdown labelled `label` (found by its accessible name)."""
    scope.get_by_label(label).click()
    page.get_by_role("option", name=option, exact=True).click()


def wait_json(page: Page, prefix: str, task: str, timeout: float = 90_000) -> None:
    expect(page.locator(f"#{prefix}-json")).to_contain_text(f'"task": "{task}"', timeout=timeout)


def image_at(page: Page, src: str) -> Image.Image:
    response = page.request.get(src)
    assert response.ok, src
    return Image.open(io.BytesIO(response.body())).convert("RGB")
