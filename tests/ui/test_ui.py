"""The web UI in headless Chromium against a real API with a tiny model: chat with a video
(streamed answer, session across a reload), temporal and spatial analyses (timeline that
seeks the player, boxes at original resolution), a job to the end, status and language."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

pytest.importorskip("gradio")
pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect

from tests.ui.conftest import Page, Stack
from tests.ui.helpers import (
    choose,
    image_at,
    upload,
    wait_chat_settled,
    wait_json,
    watch_chat,
)
from tests.ui.helpers import wait_player as player_ready
from tests.ui.truth import box_truth, spatial_result

# Colour of the first box frames.py draws.
RED = (255, 59, 48)


def _no_overflow(page: Page) -> None:
    """Usable on a laptop: nothing wider than the 1366 px window."""
    width = page.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1366, width


def _on_first_screen(page: Page, *selectors: str) -> None:
    """Seen whole without scrolling in the 1366x768 window (the page scrolled to the top)."""
    for selector in selectors:
        top, bottom, height = page.page.evaluate(
            """(s) => { window.scrollTo(0, 0); const r = document.querySelector(s)
              .getBoundingClientRect(); return [r.top, r.bottom, window.innerHeight]; }""",
            selector,
        )
        assert height == 768 and top >= 0 and bottom <= height, (selector, top, bottom)


def test_status_banner_language_and_no_outside_requests(stack: Stack, ui_page: Page) -> None:
    page = ui_page.page
    # The chat, its input and its clear button fit a laptop's screen, banner and all.
    _on_first_screen(ui_page, "#ink-chat-bot", "#ink-chat-input", "#ink-chat-clear")
    banner = page.locator("#ink-status-banner")
    expect(banner).to_contain_text("随机权重的测试模型")
    expect(page.locator("#ink-status-summary")).to_contain_text("qwen2.5-vl")
    page.get_by_role("tab", name="状态").click()
    details = page.locator("#ink-status-details")
    expect(details).to_contain_text("transformers")
    expect(details).to_contain_text(stack.api.url)
    _no_overflow(ui_page)
    ui_page.shot("status-zh")
    chat_note = page.locator("#ink-chat-status")
    expect(chat_note).to_contain_text("会话 ui-")
    page.get_by_label("English").check()
    expect(page.get_by_role("tab", name="Analysis")).to_be_visible()
    expect(banner).to_contain_text("random-weight test model")
    expect(details).to_contain_text("Engine")
    expect(chat_note).to_contain_text("Session ui-")  # a note already shown, relabelled
    ui_page.shot("status-en")
    page.reload()  # the choice is kept in the browser
    expect(page.get_by_role("tab", name="Chat")).to_be_visible()
    expect(chat_note).to_contain_text("Session ui-")  # written in the kept language
    page.get_by_label("中文").check()
    expect(page.get_by_role("tab", name="对话")).to_be_visible()
    assert httpx.get(stack.ui.url + "/healthz").json() == {"status": "ok"}
    assert ui_page.outside == [], "the UI must not call out of the machine"


def test_chat_with_video_streams_the_answer(stack: Stack, ui_page: Page) -> None:
    page = ui_page.page
    watch_chat(page)  # how often the conversation's text changes while the answer arrives
    upload(page, "ink-chat-input", stack.short_video)
    expect(page.locator("#ink-chat-input").get_by_role("listitem")).to_have_count(1)
    box = page.get_by_label("消息（可附加图片或视频）")
    box.fill("视频里白色方块往哪里移动？")
    box.press("Enter")
    user = page.locator('#ink-chat-bot [data-testid="user"]')
    expect(user).to_contain_text("视频里白色方块往哪里移动？")
    expect(user).to_contain_text("file-")  # the video went up through /v1/files
    answer = page.locator('#ink-chat-bot [data-testid="bot"]').last
    expect(answer).not_to_be_empty(timeout=60_000)
    lengths = wait_chat_settled(page)
    assert len(set(lengths)) >= 3, f"the answer did not stream: {lengths[:20]}"
    expect(page.locator("#ink-chat-error")).to_be_empty()
    ui_page.shot("chat-answer")


def test_chat_survives_a_reload_through_the_api_session(stack: Stack, ui_page: Page) -> None:
    page = ui_page.page
    watch_chat(page)
    box = page.get_by_label("消息（可附加图片或视频）")
    box.fill("记住这句话：墨影")
    box.press("Enter")
    answer = page.locator('#ink-chat-bot [data-testid="bot"]').last
    expect(answer).not_to_be_empty(timeout=60_000)
    wait_chat_settled(page)
    said = answer.inner_text()
    session = page.locator("#ink-chat-status").inner_text()
    page.reload()
    expect(page.locator("#ink-chat-status")).to_have_text(session)
    expect(page.locator('#ink-chat-bot [data-testid="user"]').last).to_contain_text("墨影")
    restored = page.locator('#ink-chat-bot [data-testid="bot"]').last
    expect(restored).not_to_be_empty()
    # The tiny model's noise holds control characters that the page renders differently
    # once markdown sees the whole text: compare the printable text.
    assert _printable(restored.inner_text()) == _printable(said)
    ui_page.shot("chat-after-reload")
    page.locator("#ink-chat-clear").click()  # (the chat box has its own bin icon too)
    expect(page.locator('#ink-chat-bot [data-testid="user"]')).to_have_count(0)
    assert page.locator("#ink-chat-status").inner_text() != session


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and not c.isspace())


def test_temporal_analysis_timeline_seeks_the_player(stack: Stack, ui_page: Page) -> None:
    page = ui_page.page
    page.get_by_role("tab", name="分析").click()
    tab = page.locator("#ink-tab-analysis")
    upload(page, "ink-an-video", stack.short_video)
    player_ready(page, "ink-an-video")
    choose(page, tab, "任务类型", "时间定位")
    tab.get_by_label("问题或目标").fill("白色方块移动")
    _on_first_screen(ui_page, "#ink-an-video", "#ink-an-query", "#ink-an-run")
    page.get_by_role("button", name="开始分析").click()
    wait_json(page, "ink-an", "temporal")
    result = json.loads(page.locator("#ink-an-json .cm-content").inner_text())
    assert result["video"] == {"duration": 3.0, "fps": 30.0, "width": 320, "height": 240}
    events = page.locator("#ink-an-timeline .ink-event")
    expect(events).to_have_count(len(result["results"]))
    assert result["results"], "the tiny model located nothing; pick another query"
    expect(page.locator("#ink-an-answer")).to_contain_text("采样")
    last = events.last
    seek = float(last.get_attribute("data-ink-seek") or "nan")
    last.click()
    at = page.evaluate("() => document.querySelector('#ink-an-video video').currentTime")
    assert abs(at - seek) < 0.05, (at, seek)
    _no_overflow(ui_page)
    ui_page.shot("analysis-temporal")


def test_spatial_analysis_draws_boxes_at_original_size(
    stack: Stack, ui_page: Page, tmp_path: Path
) -> None:
    page = ui_page.page
    page.get_by_role("tab", name="分析").click()
    tab = page.locator("#ink-tab-analysis")
    upload(page, "ink-an-video", stack.short_video)
    player_ready(page, "ink-an-video")
    choose(page, tab, "任务类型", "空间定位")
    tab.get_by_label("问题或目标").fill("白色方块")
    page.get_by_role("button", name="开始分析").click()
    wait_json(page, "ink-an", "spatial")
    result = json.loads(page.locator("#ink-an-json .cm-content").inner_text())
    gallery = page.locator("#ink-an-frames img")
    if result["results"]:
        expect(gallery.first).to_be_visible()
    else:  # the tiny model's boxes have no area; the API says so and the page shows it
        expect(page.locator("#ink-an-answer")).to_contain_text("dropped a box")
    ui_page.shot("analysis-spatial-api")
    # Boxes where the truth is: a saved result over the same uploaded video.
    saved = tmp_path / "truth.json"
    saved.write_text(json.dumps(spatial_result(result["video"], [0.5, 1.0, 2.0], fps=30)))
    page.get_by_text("打开已保存的结果").click()
    upload(page, "ink-an-saved", saved)
    expect(gallery).to_have_count(3)
    expect(page.locator("#ink-an-timeline .ink-event")).to_have_count(3)
    src = gallery.nth(1).get_attribute("src") or ""
    image = image_at(page, src)
    assert image.size == (320, 240)  # original resolution, not the model's 392x280
    x1, y1, x2, y2 = (int(v) for v in box_truth(1.0, 30, 320, 240))
    mid = (y1 + y2) // 2
    assert _near(image.getpixel((x1, mid)), RED), image.getpixel((x1, mid))
    assert _near(image.getpixel((x2 - 1, mid)), RED)
    inside = image.getpixel(((x1 + x2) // 2, mid))
    assert isinstance(inside, tuple) and min(inside) > 200  # the white square inside
    ui_page.shot("analysis-spatial-boxes")


def _near(pixel: object, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def test_job_progress_to_result_and_recent_list(stack: Stack, ui_page: Page) -> None:
    page = ui_page.page
    page.get_by_role("tab", name="长视频任务").click()
    tab = page.locator("#ink-tab-jobs")
    upload(page, "ink-jobs-video", stack.long_video)
    player_ready(page, "ink-jobs-video")
    choose(page, tab, "任务类型", "时间定位")
    tab.get_by_label("问题或目标").fill("白色方块")
    page.get_by_role("button", name="提交任务").click()
    bar = page.get_by_role("progressbar", name="进度")
    expect(bar).to_be_visible()
    id_box = tab.get_by_label("任务 ID")
    expect(id_box).not_to_have_value("")
    job_id = id_box.input_value()
    assert job_id.startswith("job"), job_id
    ui_page.shot("job-running")
    expect(bar).to_have_attribute("data-status", "succeeded", timeout=150_000)
    expect(bar).to_have_attribute("aria-valuenow", "100")
    wait_json(page, "ink-jobs", "temporal", timeout=10_000)
    listed = page.locator("#ink-jobs-list")
    expect(listed).to_contain_text(job_id)
    expect(listed).to_contain_text("已完成")
    expect(listed.locator("thead")).to_contain_text("状态")
    job = httpx.get(f"{stack.api.url}/v1/jobs/{job_id}").json()
    assert job["chunks"]["total"] >= 3, job  # a long video: several chunks
    ui_page.shot("job-done")
    page.get_by_label("English").check()  # the list already shown is relabelled
    expect(listed.locator("thead")).to_contain_text("Status")
    expect(listed.locator("thead")).to_contain_text("Progress")
    expect(listed).to_contain_text("succeeded")
    expect(listed).to_contain_text(job_id)
    ui_page.shot("job-done-en")
    page.get_by_label("中文").check()  # the browser keeps the choice: leave it as found
    expect(listed.locator("thead")).to_contain_text("状态")


def test_api_errors_are_plain_messages(stack: Stack, ui_page: Page) -> None:
    page = ui_page.page
    page.get_by_role("tab", name="分析").click()
    tab = page.locator("#ink-tab-analysis")
    tab.get_by_label("或视频链接").fill("http://127.0.0.1:1/nothing.mp4")
    tab.get_by_label("问题或目标").fill("x")
    page.get_by_role("button", name="开始分析").click()
    alert = page.locator("#ink-an-error [role=alert]")
    expect(alert).to_contain_text("API 错误")
    text = alert.inner_text()
    assert "Traceback" not in text and 'File "' not in text
    ui_page.shot("analysis-error")
